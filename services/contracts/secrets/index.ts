// Secrets at rest: sealing (envelope.ts), the host key (key.ts) and container env (env.ts). See README.md.
export { ENVELOPE_PREFIX, KEY_BYTES, isSealed, keyId, open, seal, type Sealed } from './envelope.js';
export { loadSecretKey, parseSecretKey } from './key.js';
export { REDACTED, appContainerSubject, openEnv, readStoredEnv, redactEnv, sealEnv, type SealedEnv } from './env.js';
