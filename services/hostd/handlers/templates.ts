// Template and fork jobs. Placeholder until the template registry lands: every
// job fails with a clear error instead of the build breaking.
import { ForkdError } from '../../contracts/errors.js';
import type { JobHandlers } from '../job-handlers.js';

type TemplateJobs = Pick<JobHandlers, 'template.build' | 'template.status' | 'template.pool' | 'template.delete' | 'vm.fork'>;

function notYet(job: string) {
  return async (): Promise<never> => {
    throw new ForkdError('ERR_INTERNAL', `${job} is not implemented on this host yet`);
  };
}

export function templateHandlers(): TemplateJobs {
  return {
    'template.build': notYet('template.build'),
    'template.status': notYet('template.status'),
    'template.pool': notYet('template.pool'),
    'template.delete': notYet('template.delete'),
    'vm.fork': notYet('vm.fork'),
  };
}
