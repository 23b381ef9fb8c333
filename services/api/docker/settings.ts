// What a Docker client set on a container that forkd's own container model
// does not hold (Tty, OpenStdin, AutoRemove, Labels, the image as named…).
// It is written with the row (Container.docker, at create) and read back
// from it, cached here: an API restart keeps what inspect, ps and compose
// need. Exec instances and attach tracking stay in memory, as the daemon's do.
import { EventEmitter } from 'node:events';
import type { PrismaClient } from '../db/client.js';

export interface DockerSettings {
  /** The image as the client named it (`busybox`), shown by ps and inspect. */
  image: string;
  /** Entrypoint and Cmd as asked, for Config in inspect. */
  entrypoint: string[] | null;
  cmd: string[] | null;
  tty: boolean;
  openStdin: boolean;
  attachStdin: boolean;
  autoRemove: boolean;
  labels: Record<string, string>;
  exposedPorts: Record<string, object>;
  portBindings: Record<string, Array<{ HostIp?: string; HostPort?: string }>>;
  networkMode: string;
  memoryBytes: number;
  nanoCpus: number;
  hostname: string;
  /** Network aliases asked for (NetworkingConfig), shown in inspect. */
  aliases: string[];
  /** Anonymous volumes made for Config.Volumes, removed with the container when asked (rm -v). */
  anonymousVolumes: string[];
}

export interface ExecInstance {
  id: string;
  /** forkd's container id. */
  containerId: string;
  cmd: string[];
  env: string[];
  workingDir: string | undefined;
  user: string;
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  /** The terminal's first size (create's or start's ConsoleSize, or a resize before the start). */
  consoleSize: { rows: number; cols: number } | undefined;
  /** While an interactive instance runs: its terminal's resize. */
  resize?: (rows: number, cols: number) => Promise<void>;
  running: boolean;
  started: boolean;
  exitCode: number | null;
}

/** Exec instances are forgotten this long after they ended (the daemon keeps them while the container lives). */
const EXEC_KEEP_MS = 10 * 60_000;
/** How long --rm and a remove of an exited container wait for attach and logs streams to deliver its last output. */
const ATTACH_DRAIN_MS = 15_000;

export class DockerState {
  private readonly settings = new Map<string, DockerSettings>();
  private readonly execs = new Map<string, ExecInstance>();
  private readonly exits = new Map<string, number>();
  private readonly attaches = new Map<string, Set<Promise<void>>>();
  /** `started:<id>` when a container was started through this API; waiters for attach use it. */
  readonly events = new EventEmitter();

  constructor(private readonly db?: Pick<PrismaClient, 'container'>) {
    this.events.setMaxListeners(0);
  }

  /** Caches what the create stored on the row. */
  set(containerId: string, s: DockerSettings): void {
    this.settings.set(containerId, s);
  }

  get(containerId: string): DockerSettings | undefined {
    return this.settings.get(containerId);
  }

  /** Reads the stored settings of containers not cached yet (after a restart, or made by the other listener). */
  async load(containerIds: readonly string[]): Promise<void> {
    const missing = containerIds.filter((id) => !this.settings.has(id));
    if (!this.db || missing.length === 0) return;
    const rows = await this.db.container.findMany({ where: { id: { in: missing } }, select: { id: true, docker: true } });
    for (const r of rows) {
      if (r.docker && typeof r.docker === 'object' && !Array.isArray(r.docker)) {
        this.settings.set(r.id, { aliases: [], anonymousVolumes: [], ...(r.docker as object) } as unknown as DockerSettings);
      }
    }
  }

  forget(containerId: string): void {
    this.settings.delete(containerId);
    for (const [id, e] of this.execs) if (e.containerId === containerId) this.execs.delete(id);
  }

  addExec(e: ExecInstance): void {
    this.execs.set(e.id, e);
  }

  exec(id: string): ExecInstance | undefined {
    return this.execs.get(id);
  }

  execsOf(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.containerId === containerId).map((e) => e.id);
  }

  /** Records an exec's end; it stays inspectable for a while (the CLI reads ExitCode right after). */
  endExec(e: ExecInstance, exitCode: number | null): void {
    e.exitCode = exitCode;
    e.running = false;
    setTimeout(() => this.execs.delete(e.id), EXEC_KEEP_MS).unref();
  }

  /** The exit code of a container removed by --rm, for a `wait` that asks after the row is gone. */
  recordExit(containerId: string, code: number): void {
    this.exits.set(containerId, code);
    setTimeout(() => this.exits.delete(containerId), EXEC_KEEP_MS).unref();
  }

  lastExit(containerId: string): number | null {
    return this.exits.get(containerId) ?? null;
  }

  /** An attach stream in progress: --rm waits for it (bounded) so the VM is not destroyed under its last output. */
  trackAttach(containerId: string, done: Promise<void>): void {
    const set = this.attaches.get(containerId) ?? new Set();
    this.attaches.set(containerId, set);
    set.add(done);
    void done.finally(() => { set.delete(done); if (set.size === 0) this.attaches.delete(containerId); });
  }

  async attachesDone(containerId: string, maxMs = ATTACH_DRAIN_MS): Promise<void> {
    const set = this.attaches.get(containerId);
    if (!set || set.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...set]), new Promise((r) => { timer = setTimeout(r, maxMs); })]);
    clearTimeout(timer);
  }

  markStarted(containerId: string): void {
    this.events.emit(`started:${containerId}`);
  }
}
