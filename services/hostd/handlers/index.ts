// Every handler for the container and VM jobs, in one registry slice that
// main.ts merges with host.info.
import type { JobHandlers } from '../job-handlers.js';
import { containerCreateHandler, type CreateDeps } from './container-create.js';
import { containerExecHandler, containerLogsHandler } from './container-io.js';
import { containerAttachHandler, containerResizeHandler } from './container-attach.js';
import { containerPortHandler } from './container-port.js';
import { containerInspectHandler, containerInspectManyHandler, containerSignalHandler, containerStartHandler, containerStatsHandler, containerStopHandler, containerWaitHandler } from './containers.js';
import { vmDestroyHandler, vmListHandler } from './vms.js';
import { podContainerCreateHandler, podContainerRemoveHandler } from './pod-containers.js';

export type { CreateDeps, ForkVm } from './container-create.js';

export function containerHandlers(deps: CreateDeps): Omit<JobHandlers, 'host.info' | 'template.build' | 'template.status' | 'template.pool' | 'template.delete' | 'vm.fork' | 'container.fork' | 'container.snapshot' | 'pod.fork' | 'pod.snapshot' | 'network.remove' | 'volume.create' | 'volume.delete'> {
  return {
    'container.create': containerCreateHandler(deps),
    'container.inspect': containerInspectHandler(deps),
    'container.inspectMany': containerInspectManyHandler(deps),
    'container.start': containerStartHandler(deps),
    'container.wait': containerWaitHandler(deps),
    'container.signal': containerSignalHandler(deps),
    'container.stop': containerStopHandler(deps),
    'container.logs': containerLogsHandler(deps),
    'container.exec': containerExecHandler(deps),
    'container.attach': containerAttachHandler(deps),
    'container.resize': containerResizeHandler(deps),
    'container.port': containerPortHandler(deps),
    'container.stats': containerStatsHandler(deps),
    'vm.destroy': vmDestroyHandler(deps),
    'vm.list': vmListHandler(deps),
    'pod.container.create': podContainerCreateHandler(deps),
    'pod.container.remove': podContainerRemoveHandler(deps),
  };
}
