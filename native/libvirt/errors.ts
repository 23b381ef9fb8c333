// LibvirtError: the one error type native/libvirt throws. A libvirt failure
// keeps libvirt's own numbers (virErrorNumber, virErrorDomain) and message;
// the names are for humans and for `switch`es in hostd.

/** A copy of libvirt's `virError`, taken while the failing thread still owned it. */
export interface RawLibvirtError {
  code: number;
  domain: number;
  message: string | null;
  level: number;
  str1: string | null;
  str2: string | null;
  str3: string | null;
  int1: number;
  int2: number;
}

/** virErrorNumber values forkd meets or may want to branch on (libvirt's virterror.h). */
export const ErrorCode = {
  VIR_ERR_OK: 0,
  VIR_ERR_INTERNAL_ERROR: 1,
  VIR_ERR_NO_MEMORY: 2,
  VIR_ERR_NO_SUPPORT: 3,
  VIR_ERR_UNKNOWN_HOST: 4,
  VIR_ERR_NO_CONNECT: 5,
  VIR_ERR_INVALID_CONN: 6,
  VIR_ERR_INVALID_DOMAIN: 7,
  VIR_ERR_INVALID_ARG: 8,
  VIR_ERR_OPERATION_FAILED: 9,
  VIR_ERR_OS_TYPE: 16,
  VIR_ERR_NO_NAME: 21,
  VIR_ERR_NO_OS: 22,
  VIR_ERR_XML_ERROR: 27,
  VIR_ERR_DOM_EXIST: 28,
  VIR_ERR_OPERATION_DENIED: 29,
  VIR_ERR_OPEN_FAILED: 30,
  VIR_ERR_READ_FAILED: 31,
  VIR_ERR_PARSE_FAILED: 32,
  VIR_ERR_WRITE_FAILED: 34,
  VIR_ERR_XML_DETAIL: 35,
  VIR_ERR_SYSTEM_ERROR: 38,
  VIR_ERR_RPC: 39,
  VIR_ERR_NO_DOMAIN: 42,
  VIR_ERR_NO_NETWORK: 43,
  VIR_ERR_INVALID_MAC: 44,
  VIR_ERR_AUTH_FAILED: 45,
  VIR_ERR_NO_STORAGE_POOL: 49,
  VIR_ERR_NO_STORAGE_VOL: 50,
  VIR_ERR_OPERATION_INVALID: 55,
  VIR_ERR_CONFIG_UNSUPPORTED: 67,
  VIR_ERR_OPERATION_TIMEOUT: 68,
  VIR_ERR_HOOK_SCRIPT_FAILED: 70,
  VIR_ERR_ARGUMENT_UNSUPPORTED: 74,
  VIR_ERR_OPERATION_ABORTED: 78,
  VIR_ERR_AUTH_CANCELLED: 79,
  VIR_ERR_NO_DOMAIN_METADATA: 80,
  VIR_ERR_MIGRATE_UNSAFE: 81,
  VIR_ERR_OVERFLOW: 82,
  VIR_ERR_OPERATION_UNSUPPORTED: 84,
  VIR_ERR_AGENT_UNRESPONSIVE: 86,
  VIR_ERR_RESOURCE_BUSY: 87,
  VIR_ERR_ACCESS_DENIED: 88,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** virErrorDomain values: which part of libvirt raised the error. */
export const ErrorDomain = {
  VIR_FROM_NONE: 0,
  VIR_FROM_XML: 5,
  VIR_FROM_DOM: 6,
  VIR_FROM_RPC: 7,
  VIR_FROM_CONF: 9,
  VIR_FROM_QEMU: 10,
  VIR_FROM_REMOTE: 13,
  VIR_FROM_STORAGE: 18,
  VIR_FROM_NETWORK: 19,
  VIR_FROM_DOMAIN: 20,
  VIR_FROM_SECURITY: 24,
  VIR_FROM_CAPABILITIES: 44,
  VIR_FROM_URI: 45,
  VIR_FROM_AUTH: 46,
  VIR_FROM_DEVICE: 49,
  VIR_FROM_CGROUP: 54,
  VIR_FROM_ACCESS: 55,
  VIR_FROM_THREAD: 61,
} as const;

const codeNames = new Map<number, ErrorCodeName>(
  Object.entries(ErrorCode).map(([name, value]) => [value, name as ErrorCodeName]),
);
const domainNames = new Map<number, string>(Object.entries(ErrorDomain).map(([name, value]) => [value, name]));

/** Name of a virErrorNumber, or `VIR_ERR_<n>` for codes this table does not list. */
export function errorCodeName(code: number): string {
  return codeNames.get(code) ?? `VIR_ERR_${code}`;
}

/** Name of a virErrorDomain, or `VIR_FROM_<n>`. */
export function errorDomainName(domain: number): string {
  return domainNames.get(domain) ?? `VIR_FROM_${domain}`;
}

/** Code used when a call failed but libvirt dispatched no error we could attribute to it. */
export const UNATTRIBUTED_ERROR_CODE = -1;

export class LibvirtError extends Error {
  override readonly name = 'LibvirtError';
  /** libvirt's virErrorNumber (-1: the call failed without an attributable libvirt error). */
  readonly code: number;
  /** libvirt's virErrorDomain. */
  readonly domain: number;
  readonly codeName: string;
  readonly domainName: string;
  /** The libvirt entry point that failed, e.g. `virDomainCreate`. */
  readonly operation: string;
  readonly raw: RawLibvirtError | null;
  /** True for errors raised while opening the connection. */
  readonly duringOpen: boolean;

  constructor(operation: string, raw: RawLibvirtError | null, opts: { duringOpen?: boolean } = {}) {
    const code = raw?.code ?? UNATTRIBUTED_ERROR_CODE;
    const domain = raw?.domain ?? ErrorDomain.VIR_FROM_NONE;
    const message = raw?.message ?? `${operation} failed without a libvirt error`;
    super(`${operation}: ${message}`);
    this.code = code;
    this.domain = domain;
    this.codeName = code === UNATTRIBUTED_ERROR_CODE ? 'UNATTRIBUTED' : errorCodeName(code);
    this.domainName = errorDomainName(domain);
    this.operation = operation;
    this.raw = raw;
    this.duringOpen = opts.duringOpen ?? false;
  }

  /** libvirt's own message, without the operation prefix. */
  get libvirtMessage(): string | null {
    return this.raw?.message ?? null;
  }

  /**
   * The daemon could not be reached or the link to it broke: opening failed,
   * `VIR_ERR_NO_CONNECT`, or any error from libvirt's RPC layer (errors from
   * the daemon's drivers carry their own domain, transport failures carry RPC).
   */
  get isConnectionFailure(): boolean {
    return (
      this.duringOpen ||
      this.code === ErrorCode.VIR_ERR_NO_CONNECT ||
      this.domain === ErrorDomain.VIR_FROM_RPC
    );
  }

  is(name: ErrorCodeName): boolean {
    return this.code === ErrorCode[name];
  }
}

/** Error for a call made on a handle this package already freed: a caller bug, not a libvirt failure. */
export function freedHandleError(operation: string, what: 'connection' | 'domain'): LibvirtError {
  return new LibvirtError(operation, {
    code: what === 'connection' ? ErrorCode.VIR_ERR_INVALID_CONN : ErrorCode.VIR_ERR_INVALID_DOMAIN,
    domain: ErrorDomain.VIR_FROM_NONE,
    message: `${what} handle was already freed`,
    level: 2,
    str1: null,
    str2: null,
    str3: null,
    int1: 0,
    int2: 0,
  });
}
