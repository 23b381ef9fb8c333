// The agent's end of the virtio-serial channel. No udev in the guest: the port
// is found by its name in /sys/class/virtio-ports/<vportNpM>/name, and opened
// read-write exactly once (a port can be open only once in the guest).
//
// The kernel's port read() returns 0 while no host side is connected (before
// hostd connects, between connections, in a fresh clone): that is not an end of
// file for the agent, only a "host went away" — the session is reset and the
// agent polls until bytes arrive again. Reads and writes are blocking calls on
// libuv's thread pool; writes are serialised so frames never interleave.

import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Link } from './session.js';

/** `/dev/<port>` whose sysfs name is `name`, or null. */
export async function findPort(sysPorts: string, name: string): Promise<string | null> {
  const entries = await readdir(sysPorts).catch(() => [] as string[]);
  for (const e of entries.sort()) {
    const n = (await readFile(join(sysPorts, e, 'name'), 'utf8').catch(() => '')).trim();
    if (n === name) return `/dev/${e}`;
  }
  return null;
}

export async function waitForPort(sysPorts: string, name: string, log: (m: string) => void): Promise<string> {
  for (let i = 0; ; i++) {
    const p = await findPort(sysPorts, name);
    if (p) return p;
    if (i % 50 === 0) log(`waiting for virtio port ${name} in ${sysPorts}`);
    await sleep(100);
  }
}

export interface PortHandlers {
  onData(chunk: Buffer): void;
  /** The host side disconnected (read returned 0 after data had flowed). */
  onHostGone(): void;
}

export class PortLink implements Link {
  private queue: Promise<void> = Promise.resolve();
  private generation = 0;

  private constructor(private readonly fh: FileHandle) {}

  static async open(path: string): Promise<PortLink> {
    return new PortLink(await open(path, 'r+'));
  }

  write(bytes: Buffer): void {
    const gen = this.generation;
    this.queue = this.queue.then(async () => {
      // Frames queued for a host that has gone would only confuse the next one.
      if (gen !== this.generation) return;
      let off = 0;
      try {
        while (off < bytes.length) off += (await this.fh.write(bytes, off, bytes.length - off)).bytesWritten;
      } catch {
        // The host is gone; the frame is lost, which the host's retry handles.
      }
    });
  }

  /** Drops every queued frame not yet handed to the kernel. */
  discardQueued(): void {
    this.generation++;
  }

  end(): void {
    // A virtio port stays open; the session resets instead.
  }

  /** Reads forever, delivering data and host disconnects. */
  async readLoop(h: PortHandlers): Promise<never> {
    const buf = Buffer.alloc(64 * 1024);
    let connected = false;
    for (;;) {
      let n = 0;
      try {
        n = (await this.fh.read(buf, 0, buf.length, null)).bytesRead;
      } catch {
        n = 0;
      }
      if (n > 0) {
        connected = true;
        h.onData(Buffer.from(buf.subarray(0, n)));
        continue;
      }
      if (connected) {
        connected = false;
        this.discardQueued();
        h.onHostGone();
      }
      await sleep(20);
    }
  }
}
