// The allowed values of the schema's String "enum" fields (SQLite has no
// enums). schema.prisma documents each list above its field; values.test.ts
// keeps the two in step. Lifecycle states and their legal transitions live in
// services/contracts/lifecycle/ (one module per resource); this file only says
// which schema field each list constrains.
import { CONTAINER_STATES, OPERATION_STATES, TEMPLATE_STATES, VM_STATES } from '../../contracts/lifecycle/index.js';
import { POD_STATES } from '../pods/rules.js';

export { CONTAINER_STATES, OPERATION_STATES, TEMPLATE_STATES, VM_STATES };
export type { ContainerState, OperationState, TemplateState, VmState } from '../../contracts/lifecycle/index.js';

export const API_KEY_ROLES = ['admin', 'tenant'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

export const ACCELS = ['kvm', 'tcg'] as const;
export type AccelKind = (typeof ACCELS)[number];

export const HOST_STATES = ['up', 'down', 'draining'] as const;
export type HostState = (typeof HOST_STATES)[number];

export const VM_BOOT_MODES = ['cold', 'fork', 'pool'] as const;
export type VmBootMode = (typeof VM_BOOT_MODES)[number];

/** Which schema field each list constrains: `Model.field`. */
export const STRING_ENUMS: Readonly<Record<string, readonly string[]>> = {
  'ApiKey.role': API_KEY_ROLES,
  'Host.accel': ACCELS,
  'Host.state': HOST_STATES,
  'Template.accel': ACCELS,
  'Template.state': TEMPLATE_STATES,
  'Vm.state': VM_STATES,
  'Vm.bootMode': VM_BOOT_MODES,
  'Container.state': CONTAINER_STATES,
  'Operation.state': OPERATION_STATES,
  'Pod.state': POD_STATES,
};

export function isOneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (values as readonly string[]).includes(value);
}
