// How a hostd proves to the API that it is a host of this installation (and
// which one) when it fetches image blobs from `GET /internal/blobs/:digest`.
// The credential is derived from the secret key every API and hostd of one
// installation already share (FORKD_SECRET_KEY, docs/secrets.md), so there is
// no second secret to hand out; it is per host (an HMAC over the host id) and
// uses its own scheme, so a tenant's `Bearer` key can never pass for it.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const HOST_CREDENTIAL_SCHEME = 'ForkdHost';

function credentialFor(secretKey: Buffer, hostId: string): Buffer {
  const hostKey = createHmac('sha256', secretKey).update('forkd host credential v1').digest();
  return createHmac('sha256', hostKey).update(hostId).digest();
}

/** The Authorization header value hostd sends: `ForkdHost <hostId>:<hex hmac>`. */
export function hostAuthorization(secretKey: Buffer, hostId: string): string {
  return `${HOST_CREDENTIAL_SCHEME} ${hostId}:${credentialFor(secretKey, hostId).toString('hex')}`;
}

/** The host id an Authorization header proves, or null (absent, another scheme, a wrong or malformed credential). */
export function verifyHostAuthorization(secretKey: Buffer, header: string | undefined): string | null {
  const m = /^ForkdHost ([a-z0-9-]{1,48}):([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return null;
  const expected = credentialFor(secretKey, m[1]!);
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')) ? m[1]! : null;
}
