// What forkd's Docker endpoint does not do, answered at once with a message
// that says so (501), so a client never hangs or guesses; anything else is
// Docker's own 404 "page not found".
import type { FastifyInstance } from 'fastify';
import { ForkdError } from '../../contracts/errors.js';
import { notSupported, sendDockerError } from './errors.js';

/** Path patterns of Docker features forkd does not have, with what to say. */
const UNSUPPORTED: ReadonlyArray<[RegExp, string, string?]> = [
  [/^\/build(\/|$)/, 'building images (docker build)', 'build the image elsewhere and `docker load` it'],
  [/^\/(swarm|nodes|services|tasks|secrets|configs)(\/|$)/, 'swarm mode'],
  [/^\/plugins(\/|$)/, 'plugins'],
  [/^\/commit(\/|$)/, 'committing containers to images (docker commit)'],
  [/^\/session(\/|$)/, 'BuildKit sessions'],
  [/^\/grpc(\/|$)/, 'BuildKit (gRPC)'],
  [/^\/distribution(\/|$)/, 'registry distribution queries'],
  [/^\/images\/search(\/|$)/, 'searching registries (docker search)'],
  [/^\/images\/prune(\/|$)/, 'image prune'],
  [/^\/auth(\/|$)/, 'registry login (docker login)', 'store the login with `forkd registry login HOST -u USER --password-stdin`; docker pull and push then use it'],
  [/^\/system\/df(\/|$)/, 'disk usage (docker system df)'],
  [/^\/(containers|volumes|networks|build)\/prune(\/|$)/, 'prune'],
  [/^\/containers\/[^/]+\/(archive|export|changes|top|update|rename|pause|unpause|checkpoints)(\/|$)/, 'this container operation (cp, export, diff, top, update, rename, pause)'],
  [/^\/images\/.+\/history$/, 'image history'],
];

export function installUnsupported(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    for (const [re, what, hint] of UNSUPPORTED) {
      if (re.test(path)) return sendDockerError(reply, notSupported(what, hint));
    }
    sendDockerError(reply, new ForkdError('ERR_NOT_FOUND', `page not found (forkd does not know ${request.method} ${path})`));
  });
}
