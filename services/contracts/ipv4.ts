// IPv4 addresses as the API, hostd and the CLI all read them: dotted quads,
// no leading zeros, no missing parts. One parser, so a host address the CLI
// accepts is one the API and hostd accept too.

/** 'a.b.c.d' → 0..2^32-1, or undefined when it is not an IPv4 address. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
