// `forkd run -p`: Docker's publish forms, IPv4 and TCP only.
//   CONTAINERPORT                      any free host port on 127.0.0.1
//   HOSTPORT:CONTAINERPORT             that host port on 127.0.0.1
//   HOSTIP:HOSTPORT:CONTAINERPORT      that host address and port
//   HOSTIP::CONTAINERPORT              that host address, any free port
// each optionally followed by /tcp.
import { ForkdError } from '../contracts/errors.js';
import { isIpv4 } from '../contracts/ipv4.js';
import type { PortRequest } from '../contracts/jobs.js';

const FORMS = '[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp] or CONTAINERPORT[/tcp]';

export function parsePublish(spec: string): PortRequest {
  const bad = (why: string) => new ForkdError('ERR_VALIDATION', `-p ${JSON.stringify(spec)}: ${why}`, { field: 'ports' });
  const slash = spec.lastIndexOf('/');
  const body = slash < 0 ? spec : spec.slice(0, slash);
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1).toLowerCase();
  if (proto === 'udp' || proto === 'sctp') throw bad(`only tcp ports can be published (not ${proto})`);
  if (proto !== 'tcp') throw bad(`unknown protocol ${JSON.stringify(proto)}; the forms are ${FORMS}`);
  if (body.startsWith('[')) throw bad('only IPv4 host addresses are supported');
  const parts = body.split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && !(parts.length === 3 && i === 1))) throw bad(`the forms are ${FORMS}`);
  const containerPort = port(parts.at(-1)!, 1, 'the container port');
  const hostPort = parts.length >= 2 && parts.at(-2) !== '' ? port(parts.at(-2)!, 1, 'the host port') : undefined;
  const hostIp = parts.length === 3 ? parts[0]! : undefined;
  if (hostIp !== undefined && !isIpv4(hostIp)) throw bad(`${JSON.stringify(hostIp)} is not an IPv4 address`);
  return { containerPort, ...(hostPort === undefined ? {} : { hostPort }), ...(hostIp === undefined ? {} : { hostIp }) };

  function port(text: string, min: number, what: string): number {
    if (!/^\d{1,5}$/.test(text) || Number(text) < min || Number(text) > 65535) throw bad(`${what} must be a number from ${min} to 65535 (got ${JSON.stringify(text)})`);
    return Number(text);
  }
}

