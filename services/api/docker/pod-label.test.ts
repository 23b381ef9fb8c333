import { describe, expect, it } from 'vitest';
import { parseCreate } from './create-body.js';
import { placeByPodLabel, POD_LABEL } from './pod-label.js';

const compose = (labels: Record<string, string>) => parseCreate({
  Image: 'busybox', Cmd: ['true'], Labels: labels,
  NetworkingConfig: { EndpointsConfig: { proj_default: { Aliases: ['web'] } } }, HostConfig: { NetworkMode: 'proj_default' },
}, 'proj-web-1');

describe('placeByPodLabel', () => {
  it('leaves a create without the label in a VM of its own', () => {
    const parsed = compose({ 'com.docker.compose.project': 'proj' });
    expect(placeByPodLabel(parsed)).toBe(parsed);
    expect(parsed.body.vm).toBeDefined();
  });

  it('puts a labelled create in the pod: no VM size, no network of its own, aliases kept in its settings for the pod\'s names', () => {
    const placed = placeByPodLabel(compose({ [POD_LABEL]: 'app' }));
    expect(placed.body.pod).toBe('app');
    expect(placed.body.vm).toBeUndefined();
    expect(placed.body.network).toBeUndefined();
    expect(placed.body.aliases).toBeUndefined();
    expect(placed.settings.aliases).toEqual(['web']);
    expect(placed.body.name).toBe('proj-web-1');
  });
});
