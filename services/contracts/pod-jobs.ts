// The jobs of a pod's containers (docs/pods.md): one more container in a pod's
// running VM, and one taken out of it. The pod's VM itself is made by
// `vm.fork` and removed by `vm.destroy`, like any VM.
import type { ContainerStatus, JobImage, SealedContainerSpec } from './jobs.js';

export interface PodContainerCreateInput {
  tenantId: string;
  /** The pod's VM (running on this host). */
  vmId: string;
  containerId: string;
  /** The container's name: its hostname, and (with its siblings') a name of the pod's address on the network. */
  name: string;
  image: JobImage;
  /** env sealed for containerId; limits always set (memoryMib, pids) so the agent can check the pod's budget too. */
  spec: SealedContainerSpec;
  /** Every name the pod's address answers to on its network after this create (its containers' names). */
  names: string[];
  /** false: created, not started (`container.start` starts it). Default true. */
  start?: boolean;
}

export interface PodContainerRemoveInput {
  vmId: string;
  containerId: string;
  /** The names the pod's address answers to once it is gone. */
  names: string[];
}

export interface PodJobSpecs {
  /** Imports the image into the pod's VM, creates and (unless start: false) starts the container; the VM is left as it was when this fails. */
  'pod.container.create': { input: PodContainerCreateInput; output: { status: ContainerStatus } };
  /** Deletes the container (killed if running) and its files; the VM and its siblings stay. Idempotent. */
  'pod.container.remove': { input: PodContainerRemoveInput; output: { removed: boolean } };
}
