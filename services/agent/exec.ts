// container.exec: a process in a running container through `crun exec`, with
// stdout/stderr streamed to the host under credit, optional stdin from the host,
// a timeout, and cancellation. The exec'd process is killed through its pid
// (crun's --pid-file) on timeout or cancel, so nothing outlives its call.

import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AgentError, type Params, type Result } from '../contracts/agent-protocol/index.js';
import type { Containers } from './containers.js';
import { crunError } from './crun.js';
import type { CallContext } from './handler.js';
import { mergeEnv, processSpec, resolveUser, withTerm } from './oci-spec.js';
import type { ExecTerminals } from './attach.js';
import { consoleSocketPath } from './console-path.js';
import { ConsoleSocket, type Terminal } from './terminal.js';

export async function execInContainer(containers: Containers, p: Params<'container.exec'>, ctx: CallContext, terminals?: ExecTerminals): Promise<Result<'container.exec'>> {
  const rec = containers.get(p.id);
  if (rec.status !== 'running') throw new AgentError('ERR_CONFLICT', `container ${p.id} is not running (${rec.status})`);
  if (p.command.length === 0) throw new AgentError('ERR_INVALID_PARAMS', 'command is empty', { field: 'command' });
  const dir = containers.containerDir(p.id);
  let user = rec.user;
  if (p.user !== undefined) {
    const passwd = await readFile(join(dir, 'rootfs/etc/passwd'), 'utf8').catch(() => '');
    const group = await readFile(join(dir, 'rootfs/etc/group'), 'utf8').catch(() => '');
    const u = resolveUser(p.user, passwd, group);
    if (!u) throw new AgentError('ERR_EXEC_START', `unable to find user ${p.user} in the container`);
    user = u;
  }
  const tag = `exec-${randomBytes(6).toString('hex')}`;
  const processFile = join(dir, `${tag}.json`);
  const logFile = join(dir, `${tag}.log`);
  const pidFile = join(dir, `${tag}.pid`);
  const tty = p.tty === true;
  const env = mergeEnv(rec.env, p.env, rec.name);
  await writeFile(processFile, JSON.stringify(processSpec({ args: p.command, env: tty ? withTerm(env) : env, cwd: p.workingDir ?? rec.cwd, user, terminal: tty ? { rows: p.rows, cols: p.cols } : undefined })));
  const consoleSock = tty ? await ConsoleSocket.listen(consoleSocketPath(containers.containerDir(p.id), tag)) : null;
  const child = await containers.crun.exec(containers.runtimeId(p.id), processFile, logFile, p.stdin === true, pidFile, consoleSock?.path);
  let timedOut = false;
  let exited = false;
  // Kill the process, not crun: crun is its parent and must reap it, or a zombie
  // would be left to the container's init (which may never reap). crun itself is
  // killed only if it does not finish soon after.
  const killProcess = async () => {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(pid) && pid > 1) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    setTimeout(() => {
      if (!exited) child.kill('SIGKILL');
    }, 2000).unref();
  };
  const timer = p.timeoutMs ? setTimeout(() => ((timedOut = true), void killProcess()), p.timeoutMs) : null;
  const onAbort = () => void killProcess();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (e) => resolve({ code: null, signal: null, error: e }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  void exit.then(() => (exited = true));
  let terminal: Terminal | null = null;
  if (consoleSock) {
    terminal = await Promise.race([consoleSock.received, exit.then(() => null)]).catch(() => null);
    await consoleSock.close();
    if (terminal && p.execId !== undefined) terminals?.add(p.id, p.execId, terminal);
  }
  const pump = async (from: Readable, ch: 'out' | 'err') => {
    try {
      for await (const chunk of from as AsyncIterable<Buffer>) await ctx.write(ch, chunk);
    } catch {
      from.destroy();
      await killProcess();
    }
  };
  // With a terminal, all of the process's output is the terminal's (crun's own pipes carry nothing of it).
  const pumps = Promise.all([pump(child.stdout!, 'out'), pump(child.stderr!, 'err'), ...(terminal ? [pump(terminal.stream, 'out')] : [])]);
  const feed = (async () => {
    if (terminal && p.stdin) {
      const t = terminal;
      for await (const chunk of ctx.input) await t.write(chunk);
      return;
    }
    if (!child.stdin) return;
    child.stdin.on('error', () => undefined);
    try {
      for await (const chunk of ctx.input) {
        if (!child.stdin.write(chunk)) await new Promise<void>((r) => child.stdin!.once('drain', () => r()));
      }
    } finally {
      child.stdin.end();
    }
  })().catch(() => undefined);
  try {
    const x = await exit;
    if (terminal) {
      // The terminal's last output may trail the exit; a background process holding it open is not waited for long.
      await Promise.race([pumps, new Promise((r) => setTimeout(r, 2000).unref())]);
      terminal.close();
    }
    await pumps;
    if (!terminal) await feed;
    if (ctx.signal.aborted) throw new AgentError('ERR_CANCELLED', 'exec cancelled');
    if (x.error) throw new AgentError('ERR_EXEC_START', `cannot run crun exec: ${x.error.message}`);
    if (x.code !== 0 && !timedOut) {
      const msg = await crunError(logFile);
      if (msg !== null) throw new AgentError('ERR_EXEC_START', msg, { exitCode: x.code });
    }
    return { exitCode: x.code ?? 128 + 9, signal: x.signal, timedOut };
  } finally {
    terminal?.close();
    if (p.execId !== undefined) terminals?.remove(p.id, p.execId);
    if (tty && !terminal) await consoleSock?.close().catch(() => undefined);
    if (timer) clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onAbort);
    await Promise.all([rm(processFile, { force: true }), rm(logFile, { force: true }), rm(pidFile, { force: true })]);
  }
}
