// A VM's lifecycle, in the database and on its host.
//
// Database (Vm.state):
//
//   creating ─▶ running ⇄ paused
//      │          │  │      │
//      │          │  └──────┴─▶ stopping ─▶ gone
//      ▼          ▼                 │
//    failed     lost ◀──────────────┘
//
// - failed: the create did not finish (a timeout leaves the row, and the
//   host is asked to destroy whatever it made; the reconciler finishes it).
// - lost: the row said live but its host no longer runs it (crashed,
//   destroyed behind forkd's back); found by the reconciler.
// failed and lost rows end in gone (or are deleted) once removed.
//
// hostd's own record of a VM (services/hostd/vm/vm-manager.ts):
//
//   creating ─▶ running ─▶ stopping ─▶ gone      (creating ─▶ gone on failure)
import { defineLifecycle } from './machine.js';

export const VM_STATES = ['creating', 'running', 'paused', 'stopping', 'gone', 'failed', 'lost'] as const;
export type VmState = (typeof VM_STATES)[number];

export const vmLifecycle = defineLifecycle<VmState>('VM', VM_STATES, {
  creating: ['running', 'failed', 'gone'],
  running: ['paused', 'stopping', 'gone', 'lost', 'failed'],
  paused: ['running', 'stopping', 'gone', 'lost'],
  stopping: ['gone', 'lost'],
  failed: ['gone'],
  lost: ['gone'],
  gone: [],
});

/** States that hold a VM's quota, placement weight and network address. */
export const VM_LIVE_STATES = ['creating', 'running', 'paused', 'stopping'] as const satisfies readonly VmState[];
/** States whose VM no longer runs (or never did); the complement of VM_LIVE_STATES. */
export const VM_ENDED_STATES = ['gone', 'failed', 'lost'] as const satisfies readonly VmState[];

export function isVmLive(state: string): boolean {
  return (VM_LIVE_STATES as readonly string[]).includes(state);
}

export const HOST_VM_STATES = ['creating', 'running', 'stopping', 'gone'] as const;
export type HostVmState = (typeof HOST_VM_STATES)[number];

export const hostVmLifecycle = defineLifecycle<HostVmState>('VM', HOST_VM_STATES, {
  creating: ['running', 'gone'],
  running: ['stopping'],
  stopping: ['gone'],
  gone: [],
});

/**
 * The database state a VM's row should have given what its host reports
 * (`undefined`: the host does not list it). A VM a host forgot — its domain
 * stopped, crashed or was destroyed without forkd — is `lost`.
 */
export function vmStateFromHost(reported: HostVmState | undefined): VmState {
  if (reported === undefined || reported === 'gone') return 'lost';
  return reported;
}
