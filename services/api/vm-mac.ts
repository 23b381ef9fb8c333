import { randomBytes } from 'node:crypto';

/**
 * A locally administered unicast MAC for a new Vm row. The database's unique
 * index keeps MACs unique across every host (no two clones may share one).
 */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
