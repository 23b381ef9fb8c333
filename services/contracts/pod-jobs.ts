// The jobs of a pod's containers (docs/pods.md): one more container in a pod's
// running VM, and one taken out of it. The pod's VM itself is made by
// `vm.fork` and removed by `vm.destroy`, like any VM.
import type { ContainerStatus, JobImage, NetworkAttachment, SealedContainerSpec, TemplateFacts, VmFacts } from './jobs.js';

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

export interface PodJobSpecs extends PodForkJobSpecs {
  /** Imports the image into the pod's VM, creates and (unless start: false) starts the container; the VM is left as it was when this fails. */
  'pod.container.create': { input: PodContainerCreateInput; output: { status: ContainerStatus } };
  /** Deletes the container (killed if running) and its files; the VM and its siblings stay. Idempotent. */
  'pod.container.remove': { input: PodContainerRemoveInput; output: { removed: boolean } };
}

/** One container of a pod's fork: the child's new id for a container its guest knows by the parent's. */
export interface PodForkContainer {
  /** The parent's container (its API id; hostd knows the id the guest uses). For a pod template: the guest's id. */
  from: string;
  containerId: string;
  name: string;
}

/** One new pod of a pod fork: a new VM with every container of the parent under new ids. */
export interface PodForkChild {
  vmId: string;
  network?: NetworkAttachment;
  containers: PodForkContainer[];
}

export interface PodForkInput {
  tenantId: string;
  /** Fork this running pod's VM (a fork point is captured now)… */
  parent?: { vmId: string };
  /** …or a pod template (POST /v1/pods/:id/snapshot). Exactly one of the two. */
  template?: { templateId: string };
  children: PodForkChild[];
}

export interface PodForkOutput {
  forkPoint: { templateId: string; timings: Record<string, number>; streamBytes: number };
  children: Array<{ vmId: string; vm: VmFacts; containers: Array<{ containerId: string; status: ContainerStatus }> }>;
}

export interface PodSnapshotOutput {
  template: TemplateFacts;
  pauseMs: number;
  /** The parent's containers (API id) → the id its guest knows it by: what a pod created from the template maps. */
  guestIds: Record<string, string>;
}

export interface PodForkJobSpecs {
  /** N new pods, each a new VM forked from the running pod (or a pod template) with all its containers mid-flight, or nothing. */
  'pod.fork': { input: PodForkInput; output: PodForkOutput };
  /** The running pod's VM kept as template `templateId` (a fork point under the API's name). */
  'pod.snapshot': { input: { parent: { vmId: string }; templateId: string }; output: PodSnapshotOutput };
}
