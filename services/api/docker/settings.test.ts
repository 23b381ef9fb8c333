import { describe, expect, it } from 'vitest';
import { DockerState, type DockerSettings } from './settings.js';

const stored: Partial<DockerSettings> = { image: 'busybox', tty: true, openStdin: true, autoRemove: true, labels: { app: 'web' } };

/** The container table as load() reads it: rows with a `docker` column (null for /v1 containers). */
function db(rows: Array<{ id: string; docker: unknown }>) {
  const asked: string[][] = [];
  return {
    asked,
    container: { findMany: async ({ where }: { where: { id: { in: string[] } } }) => { asked.push(where.id.in); return rows.filter((r) => where.id.in.includes(r.id)); } },
  };
}

describe('the Docker settings of containers', () => {
  it('are read back from the row after a restart, with what older rows lack filled in', async () => {
    const d = db([{ id: 'c1', docker: stored }, { id: 'c2', docker: null }]);
    const state = new DockerState(d as never);
    expect(state.get('c1')).toBeUndefined();
    await state.load(['c1', 'c2']);
    expect(state.get('c1')).toMatchObject({ ...stored, aliases: [], anonymousVolumes: [] });
    // A container made through /v1 has none: the caller uses defaults.
    expect(state.get('c2')).toBeUndefined();
  });

  it('asks the database only for containers not cached yet', async () => {
    const d = db([{ id: 'c1', docker: stored }]);
    const state = new DockerState(d as never);
    state.set('c0', stored as DockerSettings);
    await state.load(['c0', 'c1']);
    await state.load(['c0', 'c1']);
    expect(d.asked).toEqual([['c1']]);
  });
});
