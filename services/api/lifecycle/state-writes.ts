// Every state write the API makes goes through here: read the row's state,
// check the move against its lifecycle (services/contracts/lifecycle/), and
// update only if the state is still what was read (compare-and-set, so two
// writers racing cannot both move the same row). Creating and deleting rows
// are not moves and do not come here.
import { ForkdError } from '../../contracts/errors.js';
import {
  containerLifecycle, templateLifecycle, vmLifecycle,
  type ContainerState, type Lifecycle, type TemplateState, type VmState,
} from '../../contracts/lifecycle/index.js';
import type { Prisma, PrismaClient } from '../db/client.js';

/** The client or a transaction's client: a write joins the caller's transaction when given one. */
export type Db = PrismaClient | Prisma.TransactionClient;

/** A read, then an update that counts only if the state is still `from`. */
interface Table {
  state(id: string): Promise<string | null>;
  update(id: string, from: string, data: Record<string, unknown>): Promise<number>;
}

const RACE_ATTEMPTS = 3;

async function write<S extends string>(lifecycle: Lifecycle<S>, table: Table, id: string, to: S, data: Record<string, unknown>): Promise<S> {
  for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
    const from = await table.state(id);
    if (from === null) throw new ForkdError('ERR_NOT_FOUND', `no ${lifecycle.resource} ${id}`);
    if (!lifecycle.isState(from)) throw new ForkdError('ERR_INTERNAL', `${lifecycle.resource} ${id} has an unknown state ${JSON.stringify(from)}`);
    lifecycle.transition(from, to, id);
    if ((await table.update(id, from, { ...data, state: to })) === 1) return from;
  }
  throw new ForkdError('ERR_CONFLICT', `${lifecycle.resource} ${id} kept changing state while being moved to ${to}`);
}

type Data<T> = Omit<T, 'state'>;

export const vmStates = {
  /** Moves a Vm row to `to` (with `data` alongside); returns the state it left. */
  write(db: Db, id: string, to: VmState, data: Data<Prisma.VmUpdateManyMutationInput> = {}): Promise<VmState> {
    return write(vmLifecycle, {
      state: async (i) => (await db.vm.findUnique({ where: { id: i }, select: { state: true } }))?.state ?? null,
      update: async (i, from, d) => (await db.vm.updateMany({ where: { id: i, state: from }, data: d })).count,
    }, id, to, data);
  },
};

export const containerStates = {
  write(db: Db, id: string, to: ContainerState, data: Data<Prisma.ContainerUpdateManyMutationInput> = {}): Promise<ContainerState> {
    return write(containerLifecycle, {
      state: async (i) => (await db.container.findUnique({ where: { id: i }, select: { state: true } }))?.state ?? null,
      update: async (i, from, d) => (await db.container.updateMany({ where: { id: i, state: from }, data: d })).count,
    }, id, to, data);
  },
};

export const templateStates = {
  write(db: Db, id: string, to: TemplateState, data: Data<Prisma.TemplateUpdateManyMutationInput> = {}): Promise<TemplateState> {
    return write(templateLifecycle, {
      state: async (i) => (await db.template.findUnique({ where: { id: i }, select: { state: true } }))?.state ?? null,
      update: async (i, from, d) => (await db.template.updateMany({ where: { id: i, state: from }, data: d })).count,
    }, id, to, data);
  },
};
