// An in-memory stand-in for the three tables whose state the API moves, just
// enough of Prisma's findUnique/updateMany for state-writes.ts (tests only).
import type { Db } from './state-writes.js';

type RowMap = Map<string, Record<string, unknown>>;

function table(rows: RowMap, hooks: { beforeUpdate?: () => void }) {
  return {
    findUnique: async ({ where }: { where: { id: string } }) => rows.get(where.id) ?? null,
    updateMany: async ({ where, data }: { where: { id: string; state: string }; data: Record<string, unknown> }) => {
      hooks.beforeUpdate?.();
      const row = rows.get(where.id);
      if (!row || row.state !== where.state) return { count: 0 };
      Object.assign(row, data);
      return { count: 1 };
    },
  };
}

export function fakeDb(seed: { vm?: Record<string, string>; container?: Record<string, string>; template?: Record<string, string> }, hooks: { beforeUpdate?: () => void } = {}) {
  const make = (s: Record<string, string> = {}): RowMap => new Map(Object.entries(s).map(([id, state]) => [id, { id, state }]));
  const vm = make(seed.vm);
  const container = make(seed.container);
  const template = make(seed.template);
  const db = { vm: table(vm, hooks), container: table(container, hooks), template: table(template, hooks) } as unknown as Db;
  return { db, vm, container, template };
}
