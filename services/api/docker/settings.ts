// What a Docker client set on a container that forkd's own container model
// does not hold (Tty, OpenStdin, AutoRemove, Labels, the image as named…),
// kept by this process beside forkd's row. In memory: an API restart forgets
// it (the container itself, its state and logs are forkd's and stay), so
// inspect then shows defaults and AutoRemove no longer applies.
import { EventEmitter } from 'node:events';

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
  running: boolean;
  started: boolean;
  exitCode: number | null;
}

/** Exec instances are forgotten this long after they ended (the daemon keeps them while the container lives). */
const EXEC_KEEP_MS = 10 * 60_000;
/** How long --rm waits for attached streams to deliver the container's last output. */
const ATTACH_DRAIN_MS = 15_000;

export class DockerState {
  private readonly settings = new Map<string, DockerSettings>();
  private readonly execs = new Map<string, ExecInstance>();
  private readonly exits = new Map<string, number>();
  private readonly attaches = new Map<string, Set<Promise<void>>>();
  /** `started:<id>` when a container was started through this API; waiters for attach use it. */
  readonly events = new EventEmitter();

  constructor() {
    this.events.setMaxListeners(0);
  }

  set(containerId: string, s: DockerSettings): void {
    this.settings.set(containerId, s);
  }

  get(containerId: string): DockerSettings | undefined {
    return this.settings.get(containerId);
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
