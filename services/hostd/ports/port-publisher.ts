// Publishes container ports on the host (127.0.0.1 unless the request names
// another of the host's addresses) with no guest networking:
// each TCP connection to a published host port becomes one `port.connect` call
// on the VM's agent channel, which connects to 127.0.0.1:<containerPort> inside
// the guest (the container shares the VM's network namespace).
import { createServer, type Server, type Socket } from 'node:net';
import { ForkdError } from '../../contracts/errors.js';
import { isIpv4 } from '../../contracts/ipv4.js';
import type { PortRequest, PublishedPort } from '../../contracts/jobs.js';
import { errorFields, type Logger } from '../../contracts/logger.js';
import type { AgentClient } from '../agent/agent-client.js';

/** The default: loopback, so only local clients reach a container unless its owner asked for another address. */
export const PUBLISH_ADDRESS = '127.0.0.1';


interface Published {
  port: PublishedPort;
  server: Server;
  sockets: Set<Socket>;
}

export class PortPublisher {
  private readonly byVm = new Map<string, Published[]>();

  constructor(private readonly log: Logger) {}

  /** Ports this VM has published (empty when none). */
  published(vmId: string): PublishedPort[] {
    return (this.byVm.get(vmId) ?? []).map((p) => p.port);
  }

  /**
   * Listens on 127.0.0.1 for each port (hostPort 0 or absent: any free port).
   * All or nothing: when one cannot be bound, those already bound are closed.
   * `agent` is asked for the VM's client at each connection.
   */
  async publish(vmId: string, agent: () => AgentClient, ports: ReadonlyArray<PortRequest>): Promise<PublishedPort[]> {
    if (this.byVm.has(vmId)) throw new ForkdError('ERR_CONFLICT', `VM ${vmId} already has published ports`);
    const made: Published[] = [];
    try {
      for (const p of ports) {
        if (!Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535) {
          throw new ForkdError('ERR_VALIDATION', `container port ${p.containerPort} is not a TCP port`, { field: 'ports' });
        }
        const hostIp = p.hostIp ?? PUBLISH_ADDRESS;
        if (!isIpv4(hostIp)) throw new ForkdError('ERR_VALIDATION', `host address ${JSON.stringify(hostIp)} is not an IPv4 address`, { field: 'ports' });
        made.push(await this.listen(vmId, agent, p.containerPort, p.hostPort ?? 0, hostIp));
      }
    } catch (err) {
      await Promise.all(made.map((m) => closePublished(m)));
      throw err;
    }
    this.byVm.set(vmId, made);
    if (made.length > 0) this.log.info('ports published', { vm: vmId, ports: made.map((m) => `${m.port.hostAddress}:${m.port.hostPort}->${m.port.containerPort}`) });
    return made.map((m) => m.port);
  }

  /** Stops listening and drops the VM's open connections. */
  async unpublish(vmId: string): Promise<void> {
    const list = this.byVm.get(vmId);
    if (!list) return;
    this.byVm.delete(vmId);
    await Promise.all(list.map((m) => closePublished(m)));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.byVm.keys()].map((vmId) => this.unpublish(vmId)));
  }

  private listen(vmId: string, agent: () => AgentClient, containerPort: number, hostPort: number, hostIp: string): Promise<Published> {
    const sockets = new Set<Socket>();
    // allowHalfOpen: a client that half-closes still gets the guest's answer.
    const server = createServer({ allowHalfOpen: true }, (sock) => this.tunnel(vmId, agent, containerPort, sock, sockets));
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        reject(
          e.code === 'EADDRINUSE'
            ? new ForkdError('ERR_CONFLICT', `host port ${hostIp}:${hostPort} is already in use`, { field: 'ports', detail: { hostIp, hostPort } })
            : e.code === 'EADDRNOTAVAIL'
              ? new ForkdError('ERR_VALIDATION', `${hostIp} is not an address of this host`, { field: 'ports', detail: { hostIp } })
              : e.code === 'EACCES'
                ? new ForkdError('ERR_VALIDATION', `hostd may not listen on ${hostIp}:${hostPort}`, { field: 'ports', detail: { hostIp, hostPort } })
                : new ForkdError('ERR_INTERNAL', `cannot listen on ${hostIp}:${hostPort}: ${e.message}`, { cause: e }),
        );
      });
      server.listen({ host: hostIp, port: hostPort }, () => {
        server.removeAllListeners('error');
        server.on('error', (e) => this.log.warn('published port listener error', { vm: vmId, ...errorFields(e) }));
        const addr = server.address();
        const bound = typeof addr === 'object' && addr ? addr.port : hostPort;
        resolve({ port: { containerPort, hostAddress: hostIp, hostPort: bound }, server, sockets });
      });
    });
  }

  private tunnel(vmId: string, agent: () => AgentClient, containerPort: number, sock: Socket, sockets: Set<Socket>): void {
    sockets.add(sock);
    sock.on('error', () => undefined);
    let handle: ReturnType<AgentClient['portConnect']>;
    try {
      handle = agent().portConnect(containerPort);
    } catch (err) {
      this.log.debug('published port: agent unavailable', { vm: vmId, containerPort, ...errorFields(err) });
      sockets.delete(sock);
      sock.destroy();
      return;
    }
    let settled = false;
    sock.pipe(handle.input);
    handle.output.pipe(sock);
    handle.result.then(
      () => {
        settled = true;
        sock.end();
      },
      (err) => {
        settled = true;
        this.log.debug('published port connection failed in the guest', { vm: vmId, containerPort, ...errorFields(err) });
        sock.destroy();
      },
    );
    sock.on('close', () => {
      sockets.delete(sock);
      // Nothing more can reach this client: free the agent's stream at once.
      if (!settled) handle.cancel();
    });
  }
}

async function closePublished(m: Published): Promise<void> {
  for (const s of m.sockets) s.destroy();
  m.sockets.clear();
  await new Promise<void>((resolve) => m.server.close(() => resolve()));
}
