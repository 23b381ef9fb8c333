// An operation's lifecycle in the database (Operation.state):
//
//   queued ─▶ running ─▶ succeeded
//     │          │
//     └──────────┴─────▶ failed
import { defineLifecycle } from './machine.js';

export const OPERATION_STATES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

export const operationLifecycle = defineLifecycle<OperationState>('operation', OPERATION_STATES, {
  queued: ['running', 'failed'],
  running: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
});
