// Compose (or `docker run --label`) may place a container in a pod: the label
// `io.forkd.pod=<pod name or id>` (docs/pods.md). Without it, every Docker
// create keeps its own VM, as before. In a pod the container has the pod's VM
// and network: the create's VM size and network are dropped, and its network
// aliases (compose's service names) stay in its Docker settings, from where
// the pod's address takes them as names (pods/pod-containers.ts).
import type { ParsedCreate } from './create-body.js';

export const POD_LABEL = 'io.forkd.pod';

export function placeByPodLabel(parsed: ParsedCreate): ParsedCreate {
  const pod = parsed.settings.labels[POD_LABEL];
  if (pod === undefined || pod === '') return parsed;
  const { vm: _vm, network: _network, aliases: _aliases, ...body } = parsed.body;
  return { body: { ...body, pod }, settings: parsed.settings };
}
