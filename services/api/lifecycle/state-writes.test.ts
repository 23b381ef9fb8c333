import { describe, expect, it } from 'vitest';
import { IllegalTransitionError } from '../../contracts/lifecycle/index.js';
import { fakeDb } from './fake-db.js';
import { containerStates, templateStates, vmStates } from './state-writes.js';

describe('state writes', () => {
  it('moves a row along its lifecycle with its data, and refuses an illegal move without writing', async () => {
    const f = fakeDb({ vm: { v1: 'running', v2: 'gone' } });
    expect(await vmStates.write(f.db, 'v1', 'lost', { stoppedAt: new Date(0) })).toBe('running');
    expect(f.vm.get('v1')).toMatchObject({ state: 'lost', stoppedAt: new Date(0) });
    await expect(vmStates.write(f.db, 'v2', 'running')).rejects.toBeInstanceOf(IllegalTransitionError);
    expect(f.vm.get('v2')).toEqual({ id: 'v2', state: 'gone' });
  });

  it('checks containers and templates against their own tables', async () => {
    const f = fakeDb({ container: { c1: 'created', c2: 'exited' }, template: { t1: 'ready' } });
    await containerStates.write(f.db, 'c1', 'running');
    expect(f.container.get('c1')!.state).toBe('running');
    await expect(containerStates.write(f.db, 'c2', 'running')).rejects.toMatchObject({ code: 'ERR_ILLEGAL_TRANSITION', detail: { from: 'exited', to: 'running' } });
    await templateStates.write(f.db, 't1', 'stale', { error: 'host changed' });
    expect(f.template.get('t1')).toMatchObject({ state: 'stale', error: 'host changed' });
    await expect(templateStates.write(f.db, 't1', 'ready')).rejects.toMatchObject({ code: 'ERR_ILLEGAL_TRANSITION' });
  });

  it('re-reads a row another writer moved between the read and the update, and judges the move from there', async () => {
    let raced = false;
    const f = fakeDb({ vm: { v1: 'running' } }, { beforeUpdate: () => { if (!raced) { raced = true; f.vm.get('v1')!.state = 'stopping'; } } });
    // running → lost was legal when read; the row is stopping by the update, and stopping → lost is legal too.
    expect(await vmStates.write(f.db, 'v1', 'lost')).toBe('stopping');
    const g = fakeDb({ vm: { v1: 'running' } }, { beforeUpdate: () => { g.vm.get('v1')!.state = 'gone'; } });
    await expect(vmStates.write(g.db, 'v1', 'lost')).rejects.toBeInstanceOf(IllegalTransitionError);
    expect(g.vm.get('v1')!.state).toBe('gone');
  });

  it('says which row is missing, and refuses a state no lifecycle knows', async () => {
    const f = fakeDb({ vm: { odd: 'sleeping' } });
    await expect(vmStates.write(f.db, 'nope', 'running')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(vmStates.write(f.db, 'odd', 'running')).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
  });
});
