import { describe, expect, it } from 'vitest';
import { ForkdError } from '../../contracts/errors.js';
import {
  assertMayChangeTemplate, assertMayCreateTemplate, assertMayPublish, assertVmFits, maySeeTemplate, templateOwner, tenantPortRange,
  visibleTemplatesWhere, type Actor,
} from './policy.js';

const acme: Actor = { tenantId: 'acme', admin: false };
const globex: Actor = { tenantId: 'globex', admin: false };
const admin: Actor = { tenantId: 'default', admin: true };
const DEFAULT_RANGE = { min: 1024, max: 65535 };

function errorOf(fn: () => void): ForkdError {
  try {
    fn();
  } catch (err) {
    return err as ForkdError;
  }
  throw new Error('expected an error');
}

describe('templates', () => {
  it('a template is owned by its image\'s tenant; without an image it is shared', () => {
    expect(templateOwner({ image: { tenantId: 'acme' } })).toBe('acme');
    expect(templateOwner({ image: null })).toBeNull();
    expect(templateOwner({})).toBeNull();
  });

  it('a tenant sees its own and the shared ones, not another tenant\'s; the admin sees all', () => {
    expect(maySeeTemplate(acme, 'acme')).toBe(true);
    expect(maySeeTemplate(acme, null)).toBe(true);
    expect(maySeeTemplate(acme, 'globex')).toBe(false);
    expect(maySeeTemplate(admin, 'globex')).toBe(true);
  });

  it('the list filter says the same as maySeeTemplate', () => {
    expect(visibleTemplatesWhere(acme)).toEqual({ OR: [{ imageId: null }, { image: { tenantId: 'acme' } }] });
    expect(visibleTemplatesWhere(admin)).toEqual({});
  });

  it('only the owner or an admin may resize or delete; a shared one is forbidden, another tenant\'s is not found', () => {
    expect(() => assertMayChangeTemplate(acme, 'acme', 't1', 'resize')).not.toThrow();
    expect(() => assertMayChangeTemplate(admin, null, 't1', 'delete')).not.toThrow();
    expect(() => assertMayChangeTemplate(admin, 'acme', 't1', 'delete')).not.toThrow();
    expect(errorOf(() => assertMayChangeTemplate(acme, null, 't1', 'resize'))).toMatchObject({ code: 'ERR_FORBIDDEN', field: 'id', message: expect.stringContaining('shared base template') });
    expect(errorOf(() => assertMayChangeTemplate(globex, 'acme', 't1', 'delete'))).toMatchObject({ code: 'ERR_NOT_FOUND', field: 'id' });
  });

  it('only an admin may build a shared (image-less) template; a tenant may build from its image', () => {
    expect(() => assertMayCreateTemplate(acme, true)).not.toThrow();
    expect(() => assertMayCreateTemplate(admin, false)).not.toThrow();
    expect(errorOf(() => assertMayCreateTemplate(acme, false))).toMatchObject({ code: 'ERR_FORBIDDEN', field: 'image' });
  });
});

describe('published ports', () => {
  it('a tenant may publish inside the range, or let the host pick', () => {
    expect(() => assertMayPublish(acme, [{ containerPort: 80, hostPort: 8080 }, { containerPort: 443 }, { containerPort: 53, hostPort: 0 }], DEFAULT_RANGE)).not.toThrow();
    expect(() => assertMayPublish(acme, undefined, DEFAULT_RANGE)).not.toThrow();
  });

  it('a tenant may not publish below 1024, even when the configured range starts lower', () => {
    for (const range of [DEFAULT_RANGE, { min: 1, max: 65535 }]) {
      expect(errorOf(() => assertMayPublish(acme, [{ containerPort: 80, hostPort: 80 }], range))).toMatchObject({ code: 'ERR_FORBIDDEN', field: 'ports', detail: { hostPort: 80, allowed: '1024-65535' } });
    }
    expect(tenantPortRange({ min: 1, max: 2000 })).toEqual({ min: 1024, max: 2000 });
    expect(() => assertMayPublish(acme, [{ containerPort: 80, hostPort: 1024 }], { min: 1, max: 65535 })).not.toThrow();
  });

  it('a tenant may not publish outside a configured range; the admin may publish any port', () => {
    const range = { min: 20000, max: 29999 };
    expect(errorOf(() => assertMayPublish(acme, [{ containerPort: 80, hostPort: 20000 }, { containerPort: 81, hostPort: 30000 }], range)))
      .toMatchObject({ code: 'ERR_FORBIDDEN', field: 'ports', message: expect.stringContaining('ports[1].hostPort 30000') });
    expect(() => assertMayPublish(acme, [{ containerPort: 80, hostPort: 29999 }], range)).not.toThrow();
    expect(() => assertMayPublish(admin, [{ containerPort: 80, hostPort: 80 }, { containerPort: 81, hostPort: 30000 }], range)).not.toThrow();
  });
});

describe('VM quota', () => {
  const tenant = { name: 'acme', maxVms: 3, maxMemoryMib: 1024 };

  it('one more VM fits until either limit would be passed; the error names the limit', () => {
    expect(() => assertVmFits(tenant, { vms: 2, memoryMib: 512 }, 512)).not.toThrow();
    expect(errorOf(() => assertVmFits(tenant, { vms: 3, memoryMib: 0 }, 256))).toMatchObject({ code: 'ERR_QUOTA', field: 'maxVms', detail: { maxVms: 3, vms: 3 } });
    expect(errorOf(() => assertVmFits(tenant, { vms: 1, memoryMib: 768 }, 512))).toMatchObject({ code: 'ERR_QUOTA', field: 'maxMemoryMib' });
  });
});
