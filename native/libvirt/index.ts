// native/libvirt: typed, asynchronous libvirt for hostd. See native/README.md.
export { Connection, DEFAULT_URI, type DomainCapabilitiesQuery, type KeepAlive, type OpenOptions } from './connection.js';
export { Domain } from './domain.js';
export {
  ErrorCode,
  ErrorDomain,
  LibvirtError,
  UNATTRIBUTED_ERROR_CODE,
  errorCodeName,
  errorDomainName,
  type ErrorCodeName,
  type RawLibvirtError,
} from './errors.js';
export { eventLoop, type LifecycleListener, type Unsubscribe } from './events.js';
export type { MonitorReplyWithFiles } from './qemu.js';
export {
  LIBUV_DEFAULT_THREADPOOL_SIZE,
  RECOMMENDED_UV_THREADPOOL_SIZE,
  configureThreadpool,
  threadpoolSize,
} from './threadpool.js';
export {
  DomainCreateFlags,
  DomainDestroyFlags,
  DomainModificationImpact,
  DomainSaveFlags,
  DomainUndefineFlags,
  DomainXMLFlags,
  ListDomainsFlags,
  MetadataType,
  QemuMonitorFlags,
  type DomainState,
  type DomainStateInfo,
  type LifecycleEvent,
  type LifecycleEventType,
  type MetadataTypeValue,
  type NodeInfo,
  type Version,
} from './types.js';
