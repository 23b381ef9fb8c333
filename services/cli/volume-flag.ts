// `forkd run -v NAME:/path[:ro|rw]`, as Docker's `-v` writes a named volume.
import { ForkdError } from '../contracts/errors.js';

export interface VolumeFlag {
  volume: string;
  path: string;
  readOnly: boolean;
}

export function parseVolumeFlag(spec: string): VolumeFlag {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new ForkdError('ERR_VALIDATION', `-v ${JSON.stringify(spec)}: expected NAME:/path or NAME:/path:ro`, { field: 'volumes' });
  }
  if (parts[0].startsWith('/') || parts[0].startsWith('.')) {
    throw new ForkdError('ERR_VALIDATION', `-v ${JSON.stringify(spec)}: host paths cannot be mounted (each container is a VM); name a volume instead`, { field: 'volumes' });
  }
  if (!parts[1].startsWith('/')) throw new ForkdError('ERR_VALIDATION', `-v ${JSON.stringify(spec)}: the container path must be absolute`, { field: 'volumes' });
  const mode = parts[2] ?? 'rw';
  if (mode !== 'ro' && mode !== 'rw') throw new ForkdError('ERR_VALIDATION', `-v ${JSON.stringify(spec)}: the mode must be ro or rw`, { field: 'volumes' });
  return { volume: parts[0], path: parts[1], readOnly: mode === 'ro' };
}
