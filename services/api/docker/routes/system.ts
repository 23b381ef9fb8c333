// /_ping, /version, /info: what clients read first. The CLI negotiates from
// the `Api-Version` header of HEAD /_ping (without it, it drops to 1.24);
// docker-compose v1 and docker-py read /version.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import { ForkdError } from '../../../contracts/errors.js';
import { FORKD_VERSION } from '../../../contracts/version.js';
import { tenantOf, type DockerContext } from '../context.js';
import { API_VERSION, MIN_API_VERSION } from '../versions.js';

/** Where server.ts sends a `/vX.Y/` path outside 1.24–1.50, with Docker's message in the query. */
export const BAD_VERSION_PATH = '/_forkd/unsupported-api-version';

const goArch = (): string => ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[arch()] ?? arch();

function pingHeaders(reply: FastifyReply): FastifyReply {
  return reply.headers({
    'Api-Version': API_VERSION,
    Ostype: 'linux',
    'Docker-Experimental': 'false',
    // 1: the classic builder. forkd builds nothing; POST /build answers that it does not.
    'Builder-Version': '1',
    Swarm: 'inactive',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
  });
}

export async function systemRoutes(app: FastifyInstance, ctx: DockerContext): Promise<void> {
  app.get(BAD_VERSION_PATH, async (request) => {
    throw new ForkdError('ERR_VALIDATION', String((request.query as { message?: string }).message ?? 'unsupported API version'), { field: 'version' });
  });

  // Fastify answers HEAD /_ping from this route too (same headers, no body): the CLI sends HEAD first.
  app.get('/_ping', async (_request, reply) => pingHeaders(reply).type('text/plain; charset=utf-8').send('OK'));

  app.get('/version', async () => ({
    Platform: { Name: 'forkd (each container in its own VM)' },
    Components: [{ Name: 'Engine', Version: FORKD_VERSION, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), KernelVersion: release(), Experimental: 'false' } }],
    Version: FORKD_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    GoVersion: `node ${process.version}`,
    Os: 'linux',
    Arch: goArch(),
    KernelVersion: release(),
    BuildTime: '',
  }));

  app.get('/info', async (request) => {
    const tenantId = await tenantOf(ctx, request);
    const db = ctx.services.db;
    const [all, running, images] = await Promise.all([
      db.container.count({ where: { tenantId } }),
      db.container.count({ where: { tenantId, state: 'running' } }),
      db.image.count({ where: { tenantId } }),
    ]);
    return {
      ID: ctx.services.config.hostId,
      Containers: all,
      ContainersRunning: running,
      ContainersPaused: 0,
      ContainersStopped: all - running,
      Images: images,
      Driver: 'forkd-vm',
      DriverStatus: [['Isolation', 'one VM per container'], ['Data dir', ctx.services.config.dataDir]],
      Plugins: { Volume: [], Network: ['bridge'], Authorization: null, Log: [] },
      MemoryLimit: true, SwapLimit: false, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: false, CPUSet: false, PidsLimit: true,
      IPv4Forwarding: true, Debug: false, NFd: 0, OomKillDisable: false, NGoroutines: 0, SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file', CgroupDriver: 'none', CgroupVersion: '2', NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: 'forkd',
      OSVersion: FORKD_VERSION,
      OSType: 'linux',
      Architecture: arch(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
      NCPU: cpus().length,
      MemTotal: totalmem(),
      DockerRootDir: ctx.services.config.dataDir,
      Name: hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: FORKD_VERSION,
      Runtimes: { forkd: { path: 'forkd-vm' } },
      DefaultRuntime: 'forkd',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      SecurityOptions: ['name=vm-per-container'],
      Warnings: [],
    };
  });
}
