// libvirt enums and flags as typed values, and the pure mappings from
// libvirt's numbers to names. No FFI here (unit-tested in types.test.ts).

/** virDomainState. */
export type DomainState =
  | 'nostate'
  | 'running'
  | 'blocked'
  | 'paused'
  | 'shutdown'
  | 'shutoff'
  | 'crashed'
  | 'pmsuspended';
const STATES: readonly DomainState[] = ['nostate', 'running', 'blocked', 'paused', 'shutdown', 'shutoff', 'crashed', 'pmsuspended'];

// Reasons per state (virDomainRunningReason, virDomainPausedReason, ...), in enum order.
const STATE_REASONS: Record<DomainState, readonly string[]> = {
  nostate: ['unknown'],
  running: ['unknown', 'booted', 'migrated', 'restored', 'from_snapshot', 'unpaused', 'migration_canceled', 'save_canceled', 'wakeup', 'crashed', 'postcopy', 'postcopy_failed'],
  blocked: ['unknown'],
  paused: ['unknown', 'user', 'migration', 'save', 'dump', 'ioerror', 'watchdog', 'from_snapshot', 'shutting_down', 'snapshot', 'crashed', 'starting_up', 'postcopy', 'postcopy_failed', 'api_error'],
  shutdown: ['unknown', 'user'],
  shutoff: ['unknown', 'shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from_snapshot', 'daemon'],
  crashed: ['unknown', 'panicked'],
  pmsuspended: ['unknown'],
};

export interface DomainStateInfo {
  state: DomainState;
  /** libvirt's reason name for this state, e.g. 'booted', 'user', 'destroyed'; `reason_<n>` if unknown to this table. */
  reason: string;
  stateCode: number;
  reasonCode: number;
}

export function domainStateInfo(stateCode: number, reasonCode: number): DomainStateInfo {
  const state = STATES[stateCode] ?? 'nostate';
  const reason = STATE_REASONS[state][reasonCode] ?? `reason_${reasonCode}`;
  return { state, reason, stateCode, reasonCode };
}

/** virDomainEventType. */
export type LifecycleEventType =
  | 'defined'
  | 'undefined'
  | 'started'
  | 'suspended'
  | 'resumed'
  | 'stopped'
  | 'shutdown'
  | 'pmsuspended'
  | 'crashed';
const EVENTS: readonly LifecycleEventType[] = ['defined', 'undefined', 'started', 'suspended', 'resumed', 'stopped', 'shutdown', 'pmsuspended', 'crashed'];

// Details per event (virDomainEventDefinedDetailType, ...), in enum order.
const EVENT_DETAILS: Record<LifecycleEventType, readonly string[]> = {
  defined: ['added', 'updated', 'renamed', 'from_snapshot'],
  undefined: ['removed', 'renamed'],
  started: ['booted', 'migrated', 'restored', 'from_snapshot', 'wakeup'],
  suspended: ['paused', 'migrated', 'ioerror', 'watchdog', 'restored', 'from_snapshot', 'api_error', 'postcopy', 'postcopy_failed'],
  resumed: ['unpaused', 'migrated', 'from_snapshot', 'postcopy', 'postcopy_failed'],
  stopped: ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from_snapshot'],
  shutdown: ['finished', 'guest', 'host'],
  pmsuspended: ['memory', 'disk'],
  crashed: ['panicked', 'crashloaded'],
};

export interface LifecycleEvent {
  domainName: string;
  uuid: string;
  event: LifecycleEventType | `event_${number}`;
  /** e.g. 'booted', 'paused', 'destroyed'; `detail_<n>` if unknown to this table. */
  detail: string;
  eventCode: number;
  detailCode: number;
}

export function lifecycleNames(eventCode: number, detailCode: number): Pick<LifecycleEvent, 'event' | 'detail'> {
  const event = EVENTS[eventCode];
  if (event === undefined) return { event: `event_${eventCode}`, detail: `detail_${detailCode}` };
  return { event, detail: EVENT_DETAILS[event][detailCode] ?? `detail_${detailCode}` };
}

/** Flags for createWithFlags / createDomainXML (virDomainCreateFlags). */
export const DomainCreateFlags = {
  NONE: 0,
  START_PAUSED: 1,
  START_AUTODESTROY: 2,
  START_BYPASS_CACHE: 4,
  START_FORCE_BOOT: 8,
  START_VALIDATE: 16,
  START_RESET_NVRAM: 32,
} as const;

/** virDomainUndefineFlagsValues. */
export const DomainUndefineFlags = {
  NONE: 0,
  MANAGED_SAVE: 1,
  SNAPSHOTS_METADATA: 2,
  NVRAM: 4,
  KEEP_NVRAM: 8,
  CHECKPOINTS_METADATA: 16,
  TPM: 32,
  KEEP_TPM: 64,
} as const;

/** virDomainDestroyFlagsValues. */
export const DomainDestroyFlags = { DEFAULT: 0, GRACEFUL: 1, REMOVE_LOGS: 2 } as const;

/** virDomainXMLFlags. */
export const DomainXMLFlags = { NONE: 0, SECURE: 1, INACTIVE: 2, UPDATE_CPU: 4, MIGRATABLE: 8 } as const;

/** virDomainSaveRestoreFlags. */
export const DomainSaveFlags = { NONE: 0, BYPASS_CACHE: 1, RUNNING: 2, PAUSED: 4, RESET_NVRAM: 8 } as const;

/** virDomainMetadataType. */
export const MetadataType = { DESCRIPTION: 0, TITLE: 1, ELEMENT: 2 } as const;
export type MetadataTypeValue = (typeof MetadataType)[keyof typeof MetadataType];

/** virDomainModificationImpact: which definition a change applies to. */
export const DomainModificationImpact = { CURRENT: 0, LIVE: 1, CONFIG: 2 } as const;

/** virConnectListAllDomainsFlags (the common ones). */
export const ListDomainsFlags = {
  ALL: 0,
  ACTIVE: 1,
  INACTIVE: 2,
  PERSISTENT: 4,
  TRANSIENT: 8,
  RUNNING: 16,
  PAUSED: 32,
  SHUTOFF: 64,
  OTHER: 128,
} as const;

/** virDomainQemuMonitorCommandFlags. */
export const QemuMonitorFlags = { DEFAULT: 0, HMP: 1 } as const;

/** A version as libvirt encodes it (major * 1,000,000 + minor * 1,000 + micro), decoded. */
export interface Version {
  major: number;
  minor: number;
  micro: number;
  string: string;
  raw: number;
}

export function decodeVersion(raw: number): Version {
  const major = Math.floor(raw / 1_000_000);
  const minor = Math.floor((raw % 1_000_000) / 1_000);
  const micro = raw % 1_000;
  return { major, minor, micro, string: `${major}.${minor}.${micro}`, raw };
}

export interface NodeInfo {
  /** CPU model, e.g. 'x86_64'. */
  model: string;
  /** Memory size in bytes (libvirt reports KiB). */
  memoryBytes: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}
