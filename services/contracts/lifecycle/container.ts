// A container's lifecycle in the database (Container.state):
//
//   created ─▶ running ─▶ exited
//      │          │
//      └──────────┴─────▶ failed
//
// exited: the process ended (exitCode says how). failed: it never started,
// its create timed out, or its VM was lost (the container went with it).
// hostd reports 'created' | 'running' | 'exited' (ContainerStatus in jobs.ts);
// 'failed' is the API's own verdict.
import { defineLifecycle } from './machine.js';

export const CONTAINER_STATES = ['created', 'running', 'exited', 'failed'] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

export const containerLifecycle = defineLifecycle<ContainerState>('container', CONTAINER_STATES, {
  created: ['running', 'exited', 'failed'],
  running: ['exited', 'failed'],
  exited: [],
  failed: [],
});

/** Containers that still hold what they published (ports). */
export const CONTAINER_ACTIVE_STATES = ['created', 'running'] as const satisfies readonly ContainerState[];

export const HOST_CONTAINER_STATES = ['created', 'running', 'exited'] as const;
export type HostContainerState = (typeof HOST_CONTAINER_STATES)[number];

/** hostd's report maps one to one; the database adds only 'failed'. */
export function containerStateFromHost(reported: HostContainerState): ContainerState {
  return reported;
}

/**
 * Shown, never stored: a created or running container whose host is down (no
 * heartbeat for FORKD_HOST_DOWN_SEC, docs/multi-host.md). Its row keeps the
 * last state its host reported; once the host is back the container shows that
 * again, or the reconciler marks it failed if its VM did not survive.
 */
export const CONTAINER_STATE_HOST_DOWN = 'lost';

/** The state a container is shown in: its row's, or `lost` while an active one's host is down. */
export function containerViewState(state: string, hostDown: boolean): string {
  return hostDown && (CONTAINER_ACTIVE_STATES as readonly string[]).includes(state) ? CONTAINER_STATE_HOST_DOWN : state;
}

/** What a container becomes when its VM is lost: it did not exit, it was taken away. */
export const CONTAINER_STATE_WHEN_VM_LOST: ContainerState = 'failed';
