// Builds the live-fork services from the API's shared ones (kept here so
// server.ts and services.ts need one line each).
import type { ApiServices } from '../services.js';
import { NetworkAddresses } from '../networks/addresses.js';
import { Placement } from '../placement.js';
import { ContainerForks } from './container-forks.js';
import { ContainerSnapshots } from './container-snapshots.js';

export function liveForkServices(s: ApiServices): { forks: ContainerForks; snapshots: ContainerSnapshots; tenancy: ApiServices['tenancy'] } {
  const placement = new Placement(s.db, s.hostJobs);
  const addresses = new NetworkAddresses(s.db, placement, s.hostJobs);
  return {
    forks: new ContainerForks({ db: s.db, containers: s.containers, addresses, hostJobs: s.hostJobs, operations: s.operations, placement }),
    snapshots: new ContainerSnapshots({ db: s.db, containers: s.containers, templates: s.templates, hostJobs: s.hostJobs, operations: s.operations }),
    tenancy: s.tenancy,
  };
}
