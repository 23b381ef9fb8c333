// The slices of native/libvirt and the agent client the fork uses, stated
// structurally: the real Connection, Domain and AgentClient satisfy them, and
// the warm pool's state machine can be unit-tested with fakes.

import type { Params, Result } from '../../contracts/agent-protocol/messages.js';
import type { QmpDomain } from './qmp.js';

export interface ForkDomain extends QmpDomain {
  readonly name: string;
  destroy(flags?: number): Promise<void>;
  resume(): Promise<void>;
  free(): Promise<void> | void;
}

export interface ForkConnection {
  createDomainXML(xml: string, flags?: number): Promise<ForkDomain>;
  lookupDomainByName(name: string): Promise<ForkDomain | null>;
}

/** virDomainCreateFlags.START_PAUSED: libvirt sends no `cont`, so the domain runs only when we resume it. */
export const START_PAUSED = 1;

/** What the fork asks a clone's agent: its identity, and (ready pool) a rehearsal container and a held one. */
export type ForkAgentMethod = 'identity.set' | 'container.rehearse' | 'container.hold';

export interface ForkAgent {
  waitReady(opts: { timeoutMs: number }): Promise<unknown>;
  call<M extends ForkAgentMethod>(method: M, params: Params<M>): Promise<Result<M>>;
  close(): void;
}

/** Makes an agent client for a guest's socket (hostd passes `(p) => new AgentClient(p)`). */
export type AgentConnector = (socketPath: string) => ForkAgent;

export type Progress = (step: string, fields?: Record<string, unknown>) => void;

/** Destroys a domain that may already be gone, and drops the handle; never throws. */
export async function destroyQuietly(domain: ForkDomain | null | undefined): Promise<void> {
  if (!domain) return;
  await domain.destroy().catch(() => undefined);
  await Promise.resolve(domain.free()).catch(() => undefined);
}
