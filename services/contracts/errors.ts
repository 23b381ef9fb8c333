// The one error catalogue. Every error forkd reports to a client or a job carries
// a stable code from here; HTTP status and retryability live beside the code so
// routes, the worker and the CLI never guess. docs/errors.md documents each code
// (a unit test keeps the two in step).

export interface ErrorSpec {
  readonly status: number;
  readonly retryable: boolean;
  readonly summary: string;
}

export const ERRORS = {
  ERR_VALIDATION: { status: 400, retryable: false, summary: 'A request field is missing or malformed; `field` names it.' },
  ERR_UNAUTHORIZED: { status: 401, retryable: false, summary: 'No API key, or the key is unknown or revoked.' },
  ERR_FORBIDDEN: { status: 403, retryable: false, summary: 'The key is valid but may not do this (a tenant key on an admin route, changing a shared template, publishing a host port outside its range); `field` names what.' },
  ERR_NOT_FOUND: { status: 404, retryable: false, summary: 'The resource does not exist or belongs to another tenant.' },
  ERR_CONFLICT: { status: 409, retryable: false, summary: 'The resource is in a state that forbids this (for example a template still in use).' },
  ERR_ILLEGAL_TRANSITION: { status: 409, retryable: false, summary: 'A resource cannot move from its current state to the one asked (services/contracts/lifecycle/); `detail` has resource, from and to.' },
  ERR_PAYLOAD_TOO_LARGE: { status: 413, retryable: false, summary: 'The upload is larger than the configured limit.' },
  ERR_IMAGE_TOO_LARGE: { status: 413, retryable: false, summary: 'An uploaded image unpacks past a ceiling (unpacked bytes, files in a layer, layers); `detail` has the variable (`limit`), its value (`max`) and the layer; nothing was stored.' },
  ERR_IMAGE_INVALID: { status: 422, retryable: false, summary: 'An uploaded image is corrupt, truncated or not a docker-save/OCI archive.' },
  ERR_IMAGE_BUILD: { status: 502, retryable: true, summary: 'An image builder (`forkd image build desktop`) failed at a step outside forkd: the message names the step (the Debian package step: mmdebstrap could not reach the mirror in apt\'s sources or a package does not exist) and carries the tool\'s own error lines.' },
  ERR_MANIFEST_UNKNOWN: { status: 404, retryable: false, summary: 'The registry has no such repository, tag, digest or platform; the message names the registry and the reference (and the platforms an index has).' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 422, retryable: false, summary: 'The registry serves something forkd cannot run: a Docker schema 1 manifest, an artifact (not an image config), a foreign or unknown layer type; `detail.mediaType` says which.' },
  ERR_REGISTRY_AUTH: { status: 403, retryable: false, summary: 'The registry (or its token service) refused the credentials, or wants a login: `forkd registry login HOST`; `detail.registry` names it.' },
  ERR_DIGEST_MISMATCH: { status: 502, retryable: false, summary: 'A blob or manifest from the registry does not hash to its digest (or is longer than its descriptor says); nothing of the image was stored.' },
  ERR_REGISTRY_PROTOCOL: { status: 502, retryable: false, summary: 'The registry answered with something that is not the distribution API: junk JSON, an unexpected status, a manifest or config over forkd\'s size limit; nothing was stored.' },
  ERR_REGISTRY_UNREACHABLE: { status: 502, retryable: true, summary: 'The registry refused the connection, failed TLS (see FORKD_REGISTRY_CA_FILE, `--insecure`), answered 5xx/429, stalled past FORKD_REGISTRY_TIMEOUT_MS or broke off; a retry resumes where the pull stopped (layers already fetched are kept).' },
  ERR_QUOTA: { status: 429, retryable: false, summary: 'The tenant reached a quota; `field` is `maxVms` or `maxMemoryMib`.' },
  ERR_FORK_QUOTA: { status: 403, retryable: false, summary: 'A fork (of a running container or a snapshot) would take the tenant past its VM or memory quota counting every child asked; `field` is `maxVms` or `maxMemoryMib`, `detail.count` the children; nothing was created. 403, not ERR_QUOTA\'s 429: the fork is refused at this size, waiting does not make it fit (docs/fork.md).' },
  ERR_TOO_MANY_STREAMS: { status: 429, retryable: true, summary: 'Too many open streams (logs follow, exec) for the tenant or the host; `detail.scope` says which. Close one or retry later.' },
  ERR_NO_CAPACITY: { status: 503, retryable: true, summary: 'No host has room for the request right now.' },
  ERR_HOST_UNAVAILABLE: { status: 503, retryable: true, summary: 'The host that owns the resource does not answer (hostd down, queue stalled).' },
  ERR_FORK_CROSS_HOST: { status: 503, retryable: true, summary: 'A fork runs only on the host holding its template or parent, and that host is down, draining or full: forks cannot cross hosts.' },
  ERR_TIMEOUT: { status: 504, retryable: true, summary: 'The host did not finish the operation in time.' },
  ERR_INTERRUPTED: { status: 503, retryable: true, summary: 'The API restarted while an operation was running, or hostd while it ran a job it does not redo (a live fork); its work was abandoned and its half-made resource marked failed or removed.' },
  ERR_LIBVIRT: { status: 502, retryable: true, summary: 'libvirt refused or failed a call; the message carries libvirt\'s code and text.' },
  ERR_LIBVIRT_UNAVAILABLE: { status: 503, retryable: true, summary: 'libvirtd is not running or its socket cannot be reached.' },
  ERR_GUEST_TIMEOUT: { status: 504, retryable: true, summary: 'The guest agent did not answer within its deadline; the VM was cleaned up.' },
  ERR_GUEST_PROTOCOL: { status: 502, retryable: false, summary: 'The guest agent sent something malformed, oversized or out of protocol.' },
  ERR_GUEST: { status: 502, retryable: false, summary: 'The guest agent reported a failure (its own code is in `detail`).' },
  ERR_CONTAINER_START: { status: 422, retryable: false, summary: 'The container could not start (command not found, bad working directory).' },
  ERR_TEMPLATE_STALE: { status: 409, retryable: true, summary: 'The template no longer matches this host (accelerator, QEMU or machine version) and is being rebuilt.' },
  ERR_TEMPLATE_CORRUPT: { status: 500, retryable: false, summary: 'A template\'s memory or state file failed its size or checksum check.' },
  ERR_HOST_DISK_FULL: { status: 507, retryable: true, summary: 'The host lacks or ran out of disk space for writing (a live fork\'s RAM stream, fork point or disk copy; checked before the parent pauses); nothing of the operation was kept and the container it copied runs on. `detail.path` names the directory.' },
  ERR_HOST_NETWORK: { status: 500, retryable: true, summary: 'hostd could not set up guest networking on its host (a network namespace, bridge, tap or firewall rule); the message has ip\'s or nft\'s own words.' },
  ERR_SECRET_UNREADABLE: { status: 500, retryable: false, summary: 'A sealed secret (a container\'s env) did not open: it was sealed under another key (API and hostd need the same FORKD_SECRET_KEY or secret.key) or it was altered.' },
  ERR_NOT_IMPLEMENTED: { status: 501, retryable: false, summary: 'forkd does not do this (yet): a Docker Engine API endpoint or option it does not support (build, swarm, plugins, commit…) or one not wired yet; the message says which and what to do instead (docs/docker.md).' },
  ERR_CONFIG: { status: 500, retryable: false, summary: 'forkd\'s configuration is invalid (an environment variable names the fault).' },
  ERR_DATABASE: { status: 500, retryable: true, summary: 'The database could not be reached or refused a query.' },
  ERR_INTERNAL: { status: 500, retryable: false, summary: 'A bug: forkd hit a state it did not expect. Logs have the stack.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** The one error type forkd throws across module boundaries. */
export class ForkdError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: { field?: string; detail?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ForkdError';
    this.code = code;
    this.field = opts.field;
    this.detail = opts.detail;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  get retryable(): boolean {
    return ERRORS[this.code].retryable;
  }

  /** The JSON body clients see; also what a job returns when it fails. */
  toJSON(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field === undefined ? {} : { field: this.field }),
        ...(this.detail === undefined ? {} : { detail: this.detail }),
      },
    };
  }

  static fromJSON(body: ErrorBody): ForkdError {
    const e = body.error;
    return new ForkdError(isErrorCode(e.code) ? e.code : 'ERR_INTERNAL', e.message, {
      ...(e.field === undefined ? {} : { field: e.field }),
      ...(e.detail === undefined ? {} : { detail: e.detail }),
    });
  }
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; detail?: Record<string, unknown> };
}
