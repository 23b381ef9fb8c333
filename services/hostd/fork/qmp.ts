// QMP through libvirt's passthrough (virDomainQemuMonitorCommand[WithFiles]):
// the one place the fork turns a domain handle into QMP calls and QMP's
// `{"error": …}` replies into ForkdErrors.

import { ForkdError } from '../../contracts/errors.js';
import { fromLibvirtError } from '../libvirt.js';

/** The slice of native/libvirt's Domain the QMP helpers need. */
export interface QmpDomain {
  qemuMonitorCommand(cmd: string, flags: number): Promise<string>;
  qemuMonitorCommandWithFiles(cmd: string, fds: number[], flags: number): Promise<unknown>;
}

export type QmpArgs = Record<string, unknown>;

/** Runs one QMP command; `fds` are passed along (SCM_RIGHTS) for commands like getfd. */
export type Qmp = (execute: string, args?: QmpArgs, fds?: number[]) => Promise<unknown>;

export class QmpError extends ForkdError {
  constructor(
    readonly execute: string,
    readonly errorClass: string,
    desc: string,
  ) {
    super('ERR_LIBVIRT', `QMP ${execute} failed: ${errorClass}: ${desc}`, { detail: { qmp: execute, errorClass } });
  }
}

/** The reply text of a qemuMonitorCommandWithFiles call, whatever shape the binding returns it in. */
function replyText(reply: unknown): string {
  if (typeof reply === 'string') return reply;
  if (typeof reply === 'object' && reply !== null) {
    for (const key of ['result', 'reply', 'output']) {
      const v = (reply as Record<string, unknown>)[key];
      if (typeof v === 'string') return v;
    }
  }
  throw new ForkdError('ERR_INTERNAL', `unexpected QMP passthrough reply: ${JSON.stringify(reply)}`);
}

export function parseQmpReply(execute: string, text: string): unknown {
  let msg: { return?: unknown; error?: { class?: string; desc?: string } };
  try {
    msg = JSON.parse(text) as typeof msg;
  } catch {
    throw new ForkdError('ERR_LIBVIRT', `QMP ${execute}: reply is not JSON: ${text.slice(0, 200)}`);
  }
  if (msg.error) throw new QmpError(execute, msg.error.class ?? 'GenericError', msg.error.desc ?? '(no description)');
  return msg.return;
}

export function domainQmp(domain: QmpDomain): Qmp {
  return async (execute, args, fds) => {
    const cmd = JSON.stringify(args === undefined ? { execute } : { execute, arguments: args });
    let text: string;
    try {
      text = fds && fds.length > 0 ? replyText(await domain.qemuMonitorCommandWithFiles(cmd, fds, 0)) : await domain.qemuMonitorCommand(cmd, 0);
    } catch (err) {
      // Typically QEMU exited: it does when an incoming stream is refused.
      throw fromLibvirtError(err, `running QMP ${execute}`);
    }
    return parseQmpReply(execute, text);
  };
}
