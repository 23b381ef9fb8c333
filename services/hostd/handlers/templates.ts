// Template and fork jobs over this host's TemplateRegistry, and the fork path
// container.create uses for boot 'fork' / 'pool'.
import { ForkdError } from '../../contracts/errors.js';
import type { ContainerCreateInput, VmFacts } from '../../contracts/jobs.js';
import type { JobContext, JobHandlers } from '../job-handlers.js';
import type { TemplateRegistry } from '../templates/template-registry.js';
import { hostnameFor, type ManagedVm } from '../vm/vm-manager.js';
import type { ForkVm } from './container-create.js';
import type { ForkJoin, VmNetworks } from '../network/vm-networks.js';
import { joinNetwork } from './network.js';

type TemplateJobs = Pick<JobHandlers, 'template.build' | 'template.status' | 'template.pool' | 'template.delete' | 'vm.fork'>;

export function vmFacts(vm: ManagedVm): VmFacts {
  return { vmId: vm.vmId, domainName: vm.domainName, accel: vm.record.accel, boot: vm.record.boot, timings: { ...vm.record.timings } };
}

export function templateHandlers(templates: TemplateRegistry, networks?: VmNetworks): TemplateJobs {
  return {
    'template.build': async (input, ctx) => {
      await ctx.progress(1, 'build');
      return templates.build(input, (step) => void ctx.progress(50, step).catch(() => undefined));
    },
    'template.status': async (input) => templates.status(input.templateId),
    'template.pool': async (input) => templates.setPoolSize(input.templateId, input.size),
    'template.delete': async (input) => ({ deleted: await templates.delete(input.templateId) }),
    'vm.fork': async (input) => {
      // The fork sends the guest its address and attaches the tap itself (ForkJoin); a VM that was already there had both.
      const fork = networks && input.network ? networks.forkJoin(input.network, hostnameFor(input.vmId)) : undefined;
      const vm = await templates.fork({ ...input, ...(fork ? { join: fork } : {}) });
      try {
        await joinNetwork({ vms: templates.vms, ...(networks ? { networks } : {}) }, vm, input.network, fork ? { fork } : {});
      } catch (err) {
        await templates.vms.destroy(vm.vmId).catch(() => undefined); // the join's error is the one to report
        throw err;
      }
      return vmFacts(vm);
    },
  };
}

/**
 * container.create with boot 'fork' (or 'pool'): fork the named template; the
 * warm pool is used when it has a shell ready. The template's size wins over
 * the job's (it was built for that size).
 */
export function forkForContainer(templates: TemplateRegistry): ForkVm {
  return async (input: ContainerCreateInput, ctx: JobContext, served: Promise<void>, join?: ForkJoin): Promise<ManagedVm> => {
    if (!input.templateId) throw new ForkdError('ERR_VALIDATION', `boot "${input.boot}" needs a templateId`, { field: 'templateId' });
    const vm = await templates.fork({ vmId: input.vmId, templateId: input.templateId, usePool: true, refillAfter: served, ...(join ? { join } : {}) });
    if (vm.record.memoryMib !== input.vm.memoryMib || vm.record.vcpus !== input.vm.vcpus) {
      ctx.log.warn('the template was built for another size than the job asks; the fork has the template\'s', {
        vm: input.vmId, template: input.templateId, asked: input.vm, got: { memoryMib: vm.record.memoryMib, vcpus: vm.record.vcpus },
      });
    }
    return vm;
  };
}
