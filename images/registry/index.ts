// The registry client (Docker Registry HTTP API v2 / OCI distribution): see docs/images.md "Registries".
export { RegistryClient, MAX_MANIFEST_BYTES, type Credentials, type RegistryOptions } from './client.js';
export { parseChallenges, type Challenge } from './challenge.js';
export { MEDIA, parseManifest, selectPlatform, type Descriptor, type Manifest } from './manifest.js';
export { pullImage, pullCacheDir, MAX_CONFIG_BYTES, type PullOptions, type PullProgress, type PullResult } from './pull.js';
export { pushImage, type PushOptions, type PushProgress, type PushResult } from './push.js';
export { apiHost, familiarName, familiarTag, formatReference, parseReference, DOCKER_HUB, type Reference } from './reference.js';
