// A template's lifecycle in the database (Template.state):
//
//   building ─▶ ready ─▶ stale ─▶ building   (rebuilt in place)
//      │                   ▲
//      ▼                   │
//    failed ───────────────┘ (via building)
//
// stale: the host refused its files (accelerator or QEMU changed, files
// missing or corrupt); never forked from again until rebuilt.
// hostd reports 'ready' | 'missing' | 'stale' | 'corrupt' (TemplateStatus in
// jobs.ts); anything but ready makes a ready row stale.
import { defineLifecycle } from './machine.js';

export const TEMPLATE_STATES = ['building', 'ready', 'stale', 'failed'] as const;
export type TemplateState = (typeof TEMPLATE_STATES)[number];

export const templateLifecycle = defineLifecycle<TemplateState>('template', TEMPLATE_STATES, {
  building: ['ready', 'failed'],
  ready: ['stale'],
  stale: ['building'],
  failed: ['building'],
});

/** hostd's record of a template's files (services/hostd/templates/template-registry.ts). */
export const HOST_TEMPLATE_RECORD_STATES = ['building', 'ready', 'stale', 'corrupt'] as const;
export type HostTemplateRecordState = (typeof HOST_TEMPLATE_RECORD_STATES)[number];

export const hostTemplateLifecycle = defineLifecycle<HostTemplateRecordState>('template', HOST_TEMPLATE_RECORD_STATES, {
  building: ['ready'],
  ready: ['stale', 'corrupt'],
  // The host or the files may be put back; a check that passes again makes it usable.
  stale: ['building', 'ready', 'corrupt'],
  corrupt: ['building', 'ready', 'stale'],
});

/** What hostd reports in template.status: its record's state, or 'missing' (no files, or still building). */
export const HOST_TEMPLATE_STATES = ['ready', 'missing', 'stale', 'corrupt'] as const;
export type HostTemplateState = (typeof HOST_TEMPLATE_STATES)[number];

export function templateStateFromHost(reported: HostTemplateState): TemplateState {
  return reported === 'ready' ? 'ready' : 'stale';
}
