// A clone's identity. Every field a guest might use to tell itself apart from
// its siblings is fresh per clone; docs/clone-hazards.md says why each matters
// and where it is applied (domain XML vs. the agent's identity.set).
//
// Pure apart from the random source, which callers (and tests) can inject.

import { randomBytes } from 'node:crypto';

/**
 * forkd's MAC prefix. 0x0a = 0b00001010: the locally-administered bit (0x02) is
 * set and the multicast bit (0x01) is clear, so these never collide with a
 * vendor-assigned address and never with QEMU's own 52:54:00.
 */
export const FORKD_MAC_PREFIX = '0a:f0:4d';

export interface CloneIdentity {
  /** forkd's id of the VM (lower-case hex); the domain is `forkd-vm-<id>`. */
  id: string;
  name: string;
  uuid: string;
  mac: string;
  /** /etc/machine-id format: 32 lower-case hex digits, never all zero. */
  machineId: string;
  hostname: string;
  /** 64 bytes for the guest's RNG (base64), on top of the VMGenID reseed. */
  entropy: string;
  /** VM Generation ID given to the clone's vmgenid device. */
  genid: string;
}

export type RandomSource = (n: number) => Uint8Array;

const ID_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** An RFC 4122 version-4 UUID from 16 random bytes. */
export function uuidFrom(bytes: Uint8Array): string {
  const b = Uint8Array.from(bytes.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A random MAC under FORKD_MAC_PREFIX that is not in `taken` (compared case-insensitively). */
export function newMac(taken: ReadonlySet<string> = new Set(), rng: RandomSource = randomBytes): string {
  const lower = new Set([...taken].map((m) => m.toLowerCase()));
  for (let i = 0; i < 64; i++) {
    const tail = [...rng(3)].map((x) => x.toString(16).padStart(2, '0')).join(':');
    const mac = `${FORKD_MAC_PREFIX}:${tail}`;
    if (!lower.has(mac)) return mac;
  }
  throw new Error('no free MAC address found in 64 tries (random source broken or address space full)');
}

export function newMachineId(rng: RandomSource = randomBytes): string {
  for (;;) {
    const id = hex(rng(16));
    if (!/^0+$/.test(id)) return id;
  }
}

export interface IdentityOptions {
  /** forkd's VM id; generated (12 hex digits) when absent. */
  id?: string;
  hostname?: string;
  /** MACs already handed out on this host (and network): the new one avoids them. */
  takenMacs?: ReadonlySet<string>;
  rng?: RandomSource;
}

export function newIdentity(opts: IdentityOptions = {}): CloneIdentity {
  const rng = opts.rng ?? randomBytes;
  const id = opts.id ?? hex(rng(6));
  if (!ID_RE.test(id)) throw new Error(`invalid VM id ${JSON.stringify(id)}`);
  const hostname = opts.hostname ?? `forkd-${id}`;
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(hostname)) throw new Error(`invalid hostname ${JSON.stringify(hostname)}`);
  return {
    id,
    name: `forkd-vm-${id}`,
    uuid: uuidFrom(rng(16)),
    mac: newMac(opts.takenMacs, rng),
    machineId: newMachineId(rng),
    hostname,
    entropy: Buffer.from(rng(64)).toString('base64'),
    genid: uuidFrom(rng(16)),
  };
}
