// Container environment variables as forkd keeps them outside the guest:
// sealed in job payloads and database rows, names only in views. The guest
// gets them in the clear (hostd opens them just before the agent call).
import { isSealed, open, seal, type Sealed } from './envelope.js';

/** A sealed `['KEY=value', …]`. */
export type SealedEnv = Sealed & { readonly __env: true };

export const REDACTED = '<redacted>';

/** What a container's env is bound to: its envelope opens for that container only. */
function context(containerId: string): string {
  return `container-env:${containerId}`;
}

/** An app template's containers are named `app-0`… in every template: their env is bound to the template too. */
export function appContainerSubject(templateId: string, containerId: string): string {
  return `${templateId}/${containerId}`;
}

/** `containerId`: the container's id, or appContainerSubject() for an app template's container. */
export function sealEnv(key: Buffer, containerId: string, env: readonly string[]): SealedEnv {
  return seal(key, JSON.stringify(env), context(containerId)) as SealedEnv;
}

export function openEnv(key: Buffer, containerId: string, sealed: SealedEnv | string): string[] {
  return JSON.parse(open(key, sealed, context(containerId)).toString('utf8')) as string[];
}

/**
 * The env a Container row's `env` column holds: an envelope, or (rows written
 * before env was sealed) the plain list. The one way to read that column.
 */
export function readStoredEnv(key: Buffer, containerId: string, stored: unknown): string[] {
  if (isSealed(stored)) return openEnv(key, containerId, stored);
  return Array.isArray(stored) ? stored.map(String) : [];
}

/** `KEY=value` → `KEY=<redacted>`: names stay visible, values do not. */
export function redactEnv(env: readonly string[]): string[] {
  return env.map((kv) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? kv : `${kv.slice(0, eq)}=${REDACTED}`;
  });
}
