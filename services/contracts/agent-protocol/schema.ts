// A tiny schema language: each schema is a runtime validator and, through
// `Infer`, the static type of what it accepts. Both sides validate what they
// receive with the same schemas, so a message's type and its check never drift.
// Unknown object keys are ignored (older peers stay readable); everything else
// is checked: types, integer ranges, string lengths, array lengths.

export interface Schema<T> {
  /** Returns null when `v` is acceptable, else a message naming the path. */
  readonly check: (v: unknown, path: string) => string | null;
  readonly optional?: boolean;
  /** Phantom field carrying the inferred type; never set at runtime. */
  readonly _type?: T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<P> = { [K in keyof P]: P[K] extends { optional: true } ? K : never }[keyof P];
type RequiredKeys<P> = Exclude<keyof P, OptionalKeys<P>>;
export type InferObject<P extends Record<string, Schema<unknown>>> = Simplify<
  { [K in RequiredKeys<P>]: Infer<P[K]> } & { [K in OptionalKeys<P>]?: Exclude<Infer<P[K]>, undefined> }
>;

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

export function str(opts: { max?: number; min?: number; pattern?: RegExp } = {}): Schema<string> {
  const max = opts.max ?? 4096;
  const min = opts.min ?? 0;
  return {
    check: (v, p) => {
      if (typeof v !== 'string') return `${p}: expected string, got ${describe(v)}`;
      if (v.length > max) return `${p}: longer than ${max} characters`;
      if (v.length < min) return `${p}: shorter than ${min} characters`;
      if (opts.pattern && !opts.pattern.test(v)) return `${p}: does not match ${String(opts.pattern)}`;
      return null;
    },
  };
}

export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  return {
    check: (v, p) => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return `${p}: expected integer, got ${describe(v)}`;
      if (v < min || v > max) return `${p}: ${v} outside [${min}, ${max}]`;
      return null;
    },
  };
}

export function num(opts: { min?: number; max?: number } = {}): Schema<number> {
  return {
    check: (v, p) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) return `${p}: expected number, got ${describe(v)}`;
      if (opts.min !== undefined && v < opts.min) return `${p}: ${v} below ${opts.min}`;
      if (opts.max !== undefined && v > opts.max) return `${p}: ${v} above ${opts.max}`;
      return null;
    },
  };
}

export const bool: Schema<boolean> = {
  check: (v, p) => (typeof v === 'boolean' ? null : `${p}: expected boolean, got ${describe(v)}`),
};

export function lit<const T extends readonly (string | number)[]>(...values: T): Schema<T[number]> {
  return {
    check: (v, p) => ((values as readonly unknown[]).includes(v) ? null : `${p}: expected one of ${values.join(', ')}`),
  };
}

export function arr<T>(item: Schema<T>, opts: { max?: number } = {}): Schema<T[]> {
  const max = opts.max ?? 1024;
  return {
    check: (v, p) => {
      if (!Array.isArray(v)) return `${p}: expected array, got ${describe(v)}`;
      if (v.length > max) return `${p}: more than ${max} items`;
      for (let i = 0; i < v.length; i++) {
        const e = item.check(v[i], `${p}[${i}]`);
        if (e) return e;
      }
      return null;
    },
  };
}

export function nullable<T>(s: Schema<T>): Schema<T | null> {
  return { check: (v, p) => (v === null ? null : s.check(v, p)) };
}

export function opt<T>(s: Schema<T>): Schema<T | undefined> & { optional: true } {
  return { optional: true, check: (v, p) => (v === undefined ? null : s.check(v, p)) };
}

export function obj<P extends Record<string, Schema<unknown>>>(props: P): Schema<InferObject<P>> {
  const keys = Object.keys(props);
  return {
    check: (v, p) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${p}: expected object, got ${describe(v)}`;
      const rec = v as Record<string, unknown>;
      for (const k of keys) {
        const s = props[k]!;
        const has = Object.hasOwn(rec, k);
        if (!has && !s.optional) return `${p}.${k}: required`;
        const e = s.check(has ? rec[k] : undefined, `${p}.${k}`);
        if (e) return e;
      }
      return null;
    },
  };
}

/** Validates and narrows; returns an error message or the typed value. */
export function validate<T>(s: Schema<T>, v: unknown, path = '$'): { ok: true; value: T } | { ok: false; error: string } {
  const e = s.check(v, path);
  return e === null ? { ok: true, value: v as T } : { ok: false, error: e };
}
