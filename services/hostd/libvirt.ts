// hostd's door to libvirt: opens the connection and turns LibvirtErrors into
// ForkdErrors (ERR_LIBVIRT_UNAVAILABLE when the daemon is not there), so the rest
// of hostd and the API see one error type.
import { Connection, LibvirtError } from '../../native/libvirt/index.js';
import { ForkdError } from '../contracts/errors.js';

export function fromLibvirtError(err: unknown, doing: string): unknown {
  if (!(err instanceof LibvirtError)) return err;
  const detail = { libvirtCode: err.code, libvirtDomain: err.domain, libvirtCodeName: err.codeName };
  if (err.isConnectionFailure) {
    return new ForkdError('ERR_LIBVIRT_UNAVAILABLE', `libvirtd cannot be reached while ${doing}: ${err.message}. Start it with \`libvirtd -d\` (npm start does).`, { detail, cause: err });
  }
  return new ForkdError('ERR_LIBVIRT', `libvirt failed while ${doing}: ${err.message}`, { detail, cause: err });
}

export async function openLibvirt(uri: string): Promise<Connection> {
  try {
    return await Connection.open(uri);
  } catch (err) {
    throw fromLibvirtError(err, `connecting to ${uri}`);
  }
}

/** Runs a libvirt call and rethrows its failure as a ForkdError. */
export async function libvirtCall<T>(doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fromLibvirtError(err, doing);
  }
}
