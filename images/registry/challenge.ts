// WWW-Authenticate challenges (RFC 7235) as registries send them:
//   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"
//   Basic realm="Registry Realm"
// Parameter values may be quoted (with \-escapes) or bare tokens; several
// challenges may share one header, separated by commas.

export interface Challenge {
  /** Lowercased: 'bearer', 'basic', … */
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

export function parseChallenges(header: string | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (header === undefined) return out;
  let s = header;
  const skip = (): void => {
    s = s.replace(/^[\s,]+/, '');
  };
  skip();
  while (s.length > 0) {
    const scheme = TOKEN.exec(s)?.[0];
    if (scheme === undefined) break;
    s = s.slice(scheme.length);
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      s = s.replace(/^\s+/, '');
      const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*/.exec(s);
      if (m === null) break;
      // A bare token followed by '=' starts a parameter; a token followed by
      // anything else is the next challenge's scheme.
      s = s.slice(m[0].length);
      let value: string;
      if (s.startsWith('"')) {
        let i = 1;
        value = '';
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        s = s.slice(i + 1);
      } else {
        value = /^[^,\s]*/.exec(s)?.[0] ?? '';
        s = s.slice(value.length);
      }
      challenge.params[(m[1] as string).toLowerCase()] = value;
      s = s.replace(/^\s*,\s*/, '');
    }
    skip();
  }
  return out;
}
