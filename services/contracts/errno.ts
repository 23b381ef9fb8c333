// errno numbers as people read them, for errors of calls made through koffi
// (the agent's posix_spawn and system calls, hostd's link calls).
import { constants } from 'node:os';

/** errno's symbolic name (ENOENT), or `errno N`. */
export function errnoName(errno: number): string {
  return Object.entries(constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}
