// docker pull / docker push through forkd's registry client, answered with
// Docker's JSON progress messages (one JSON object a line, what the docker
// CLI's jsonmessage renders): "Pulling fs layer", "Downloading" with
// progressDetail, "Pull complete", "Digest: …", "Status: Downloaded newer
// image for …"; "Preparing", "Pushing", "Pushed", "Layer already exists",
// "<tag>: digest: … size: …" and the `aux` line. A failure after the 200 is an
// `error`/`errorDetail` line, as dockerd sends it.
//
// Plain HTTP: like dockerd's default insecure-registry range 127.0.0.0/8, a
// registry on loopback (127.x, localhost, [::1]) is spoken to over HTTP, and
// so is one listed in FORKD_REGISTRY_INSECURE; any other needs HTTPS
// (FORKD_REGISTRY_CA_FILE for a private CA).
// Credentials: the X-Registry-Auth header (base64 JSON {username, password})
// when the client sends one, else the tenant's stored login.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PullProgress, PushProgress } from '../../../images/registry/index.js';
import { parseRef } from '../../../images/containers/refs.js';
import { parseReference } from '../../../images/registry/reference.js';
import type { Credentials } from '../../../images/registry/client.js';
import { ForkdError } from '../../contracts/errors.js';
import { toForkdError } from '../error-handler.js';
import type { Registries } from '../registries.js';

export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '');
  return host === 'localhost' || /^127(\.[0-9]{1,3}){3}$/.test(host) || host === '[::1]';
}

/** The X-Registry-Auth header's credentials, if it carries a user and password. */
export function registryAuthHeader(value: string | string[] | undefined): Credentials | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 16384) return undefined;
  try {
    const json = JSON.parse(Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as { username?: unknown; password?: unknown };
    if (typeof json.username === 'string' && json.username && typeof json.password === 'string' && json.password) return { username: json.username, password: json.password };
  } catch {
    // not base64 JSON: as if absent (dockerd ignores an unreadable header too)
  }
  return undefined;
}

const short = (digest: string): string => digest.slice(7, 19);

function bar(current: number, total: number): string {
  const width = 50;
  const done = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  return `[${'='.repeat(Math.max(0, done - 1))}${done > 0 ? '>' : ''}${' '.repeat(width - done)}] ${current}/${total}`;
}

/** A pull event as Docker's JSON messages (none for events Docker has no line for). */
export function pullMessages(e: PullProgress, name: string): object[] {
  if (e.kind === 'resolved') return [{ status: `Pulling from ${name}`, id: e.ref.split(':').pop() }];
  if (e.kind === 'done') return [];
  const id = short(e.digest);
  switch (e.status) {
    case 'exists': return [{ status: 'Already exists', progressDetail: {}, id }];
    case 'cached': return [{ status: 'Download complete', progressDetail: {}, id }];
    case 'downloading': return [{ status: 'Downloading', progressDetail: { current: e.current ?? 0, total: e.total }, progress: bar(e.current ?? 0, e.total), id }];
    case 'downloaded': return [{ status: 'Verifying Checksum', progressDetail: {}, id }, { status: 'Download complete', progressDetail: {}, id }];
    case 'verified': return [{ status: 'Pull complete', progressDetail: {}, id }];
  }
}

export function pushMessages(e: PushProgress): object[] {
  if (e.kind === 'done') return [];
  const id = short(e.digest);
  switch (e.status) {
    case 'exists': return [{ status: 'Layer already exists', progressDetail: {}, id }];
    case 'pushing': return [{ status: 'Pushing', progressDetail: { current: 0, total: e.total }, id }];
    case 'pushed': return [{ status: 'Pushed', progressDetail: {}, id }];
  }
}

/**
 * The 200 and its JSON lines start with the first message, so a failure
 * before any (unknown image, unreachable registry, refused login) is an
 * ordinary Docker error answer the CLI prints as it is.
 */
class Stream {
  private started = false;

  constructor(private readonly reply: FastifyReply) {}

  send(msg: object): void {
    const res = this.reply.raw;
    if (!this.started) {
      this.started = true;
      this.reply.hijack();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    }
    if (!res.writableEnded) res.write(`${JSON.stringify(msg)}\n`);
  }

  /** After the 200: an error line, as dockerd sends it. Before: the error itself, for the route to answer. */
  fail(err: unknown): void {
    if (!this.started) throw err;
    const message = toForkdError(err).message;
    this.send({ errorDetail: { message }, error: message });
  }

  end(): void {
    if (this.started) this.reply.raw.end();
  }
}

const HOW_TO_LOAD = 'on a machine that can reach it run `docker save IMAGE -o image.tar`, then `docker load -i image.tar` here (or `forkd image import image.tar`)';

/** docker pull: POST /images/create?fromImage=…&tag=… for an image forkd does not have yet. */
export async function dockerPull(registries: Registries, tenantId: string, ref: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const parsed = parseReference(ref, 'fromImage');
  const credentials = registryAuthHeader(request.headers['x-registry-auth']);
  const stream = new Stream(reply);
  const name = ref.split('@')[0]!.replace(/:[^/:]*$/, '');
  try {
    const view = await registries.pull(tenantId, ref, isLoopbackRegistry(parsed.registry) || registries.isInsecure(parsed.registry, false), (e) => {
      for (const m of pullMessages(e, name)) stream.send(m);
    }, credentials);
    stream.send({ status: `Digest: ${view.id}` });
    stream.send({ status: `Status: Downloaded newer image for ${ref}` });
  } catch (err) {
    const fe = toForkdError(err);
    // Docker's wording for a pull that found nothing, which the CLI shows after "Unable to find image".
    // Docker Hub answers a repository that does not exist with 401 (access denied), so a refused login words the same way.
    const missing = fe.code === 'ERR_MANIFEST_UNKNOWN' || fe.code === 'ERR_REGISTRY_UNREACHABLE' || fe.code === 'ERR_REGISTRY_AUTH';
    stream.fail(missing ? new ForkdError(fe.code === 'ERR_MANIFEST_UNKNOWN' ? 'ERR_NOT_FOUND' : fe.code, `No such image: ${parseRef(ref) ?? ref}: ${fe.message}; ${HOW_TO_LOAD}`, { cause: err }) : fe);
  } finally {
    stream.end();
  }
}

/** docker push: POST /images/{name}/push?tag=… */
export async function dockerPush(registries: Registries, tenantId: string, ref: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const parsed = parseReference(ref, 'name');
  const credentials = registryAuthHeader(request.headers['x-registry-auth']);
  const stream = new Stream(reply);
  try {
    stream.send({ status: `The push refers to repository [${ref.split('@')[0]!.replace(/:[^/:]*$/, '')}]` });
    const pushed = await registries.push(tenantId, ref, isLoopbackRegistry(parsed.registry) || registries.isInsecure(parsed.registry, false), (e) => {
      for (const m of pushMessages(e)) stream.send(m);
    }, credentials);
    stream.send({ status: `${parsed.tag}: digest: ${pushed.digest} size: ${pushed.size}` });
    stream.send({ progressDetail: {}, aux: { Tag: parsed.tag, Digest: pushed.digest, Size: pushed.size } });
  } catch (err) {
    stream.fail(err);
  } finally {
    stream.end();
  }
}
