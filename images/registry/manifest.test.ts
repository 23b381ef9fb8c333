import { describe, expect, it } from 'vitest';
import { MEDIA, parseManifest, selectPlatform, type Manifest } from './manifest.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const image = (over: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.dockerManifest,
    config: { mediaType: MEDIA.dockerConfig, digest: d('c'), size: 10 },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: d('1'), size: 5 }],
    ...over,
  }));
const index = (manifests: unknown[]) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
const entry = (arch: string, c: string, os = 'linux', mediaType: string = MEDIA.ociManifest) => ({ mediaType, digest: d(c), size: 100, platform: { architecture: arch, os } });

describe('parseManifest', () => {
  it('reads Docker v2 and OCI image manifests', () => {
    expect(parseManifest(image(), undefined, 'x')).toMatchObject({ kind: 'image', mediaType: MEDIA.dockerManifest, config: { digest: d('c') }, layers: [{ digest: d('1'), size: 5 }] });
    const oci = image({ mediaType: undefined, config: { mediaType: MEDIA.ociConfig, digest: d('c'), size: 1 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: d('2'), size: 3 }] });
    expect(parseManifest(oci, MEDIA.ociManifest, 'x')).toMatchObject({ kind: 'image', mediaType: MEDIA.ociManifest });
  });

  it('reads manifest lists and OCI indexes', () => {
    expect(parseManifest(index([entry('amd64', 'a')]), undefined, 'x')).toMatchObject({ kind: 'index', manifests: [{ digest: d('a') }] });
  });

  it('refuses schema 1, artifacts and foreign or unknown layers as unsupported media types', () => {
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), undefined, 'x')).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_MEDIA_TYPE', message: expect.stringMatching(/schema 1/) }));
    expect(() => parseManifest(image({ config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: d('c'), size: 1 } }), undefined, 'x')).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_MEDIA_TYPE' }));
    expect(() => parseManifest(image({ layers: [{ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d('1'), size: 1 }] }), undefined, 'x')).toThrow(/foreign/);
    expect(() => parseManifest(image({ layers: [{ mediaType: 'application/x-xz', digest: d('1'), size: 1 }] }), undefined, 'x')).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_MEDIA_TYPE', detail: { mediaType: 'application/x-xz', layer: 1 } }));
    expect(() => parseManifest(image({ mediaType: 'text/html' }), undefined, 'x')).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_MEDIA_TYPE' }));
  });

  it('refuses junk as a protocol error', () => {
    expect(() => parseManifest(Buffer.from('<html>'), 'text/html', 'x')).toThrow(expect.objectContaining({ code: 'ERR_REGISTRY_PROTOCOL' }));
    expect(() => parseManifest(Buffer.from('[]'), undefined, 'x')).toThrow(/not a JSON object/);
    expect(() => parseManifest(image({ layers: [{ mediaType: MEDIA.ociLayer, digest: 'sha512:ab', size: 1 }] }), undefined, 'x')).toThrow(/only sha256/);
    expect(() => parseManifest(image({ layers: [{ mediaType: MEDIA.ociLayer, digest: d('1'), size: -1 }] }), undefined, 'x')).toThrow(/size/);
    expect(() => parseManifest(image({ layers: 'no' }), undefined, 'x')).toThrow(/layers array/);
  });
});

describe('selectPlatform', () => {
  const idx = (entries: unknown[]) => parseManifest(index(entries), undefined, 'x') as Extract<Manifest, { kind: 'index' }>;

  it('picks linux/<arch> among platforms, skipping attestations', () => {
    const i = idx([entry('unknown', '0', 'unknown'), entry('arm64', 'b'), entry('amd64', 'a'), entry('amd64', 'e', 'windows')]);
    expect(selectPlatform(i, 'x', 'amd64').digest).toBe(d('a'));
    expect(selectPlatform(i, 'x', 'arm64').digest).toBe(d('b'));
  });

  it('names the platforms there are when the one asked is missing', () => {
    expect(() => selectPlatform(idx([entry('arm64', 'b'), entry('s390x', 'c')]), 'x', 'amd64')).toThrow(
      expect.objectContaining({ code: 'ERR_MANIFEST_UNKNOWN', message: expect.stringMatching(/no linux\/amd64 .*linux\/arm64, linux\/s390x/) }),
    );
  });
});
