// `--tenant T` / `--all-tenants` for admin keys (the API's ?tenant= and
// ?allTenants=true, services/api/tenancy/scope.ts): one definition for every command that takes them.
import type { Options } from './command.js';

export const TENANT_OPTIONS: Options = {
  tenant: { type: 'string' },
  'all-tenants': { type: 'boolean' },
};

/** The query parameters the options ask for (none when neither was given). */
export function tenantQuery(values: Record<string, unknown>): Record<string, string> {
  return {
    ...(typeof values['tenant'] === 'string' ? { tenant: values['tenant'] } : {}),
    ...(values['all-tenants'] ? { allTenants: 'true' } : {}),
  };
}

/** `path` with the tenant query appended. */
export function withTenant(path: string, values: Record<string, unknown>): string {
  const q = new URLSearchParams(tenantQuery(values));
  if (q.size === 0) return path;
  return `${path}${path.includes('?') ? '&' : '?'}${q}`;
}
