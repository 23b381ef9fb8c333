// Where this host keeps its templates and what hostd records beside the fork
// module's files: `<dataDir>/templates/<templateId>/` holds memory, state,
// disk.qcow2 and manifest.json (fork/template-manifest.ts, written last by the
// build) plus `forkd.json` (this file: the pool size to restore after a
// restart, what was baked in, how long the build took). Warm-pool shells live
// in `<dataDir>/run/pool/<shellId>/` until a VM claims them.
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ForkdError } from '../../contracts/errors.js';

/** Template ids name directories and domains (`forkd-tmpl-<id>`). */
const TEMPLATE_ID_RE = /^[a-z0-9][a-z0-9_-]{0,47}$/;

export function assertTemplateId(id: string): void {
  if (typeof id !== 'string' || !TEMPLATE_ID_RE.test(id)) {
    throw new ForkdError('ERR_VALIDATION', `invalid template id ${JSON.stringify(id)}: 1–48 of a-z 0-9 _ -, starting with a letter or digit`, { field: 'templateId' });
  }
}

export interface TemplateDirs {
  /** `<dataDir>/templates` */
  templates: string;
  /** `<dataDir>/run/pool` */
  pool: string;
}

export function templateDirs(dataDir: string): TemplateDirs {
  return { templates: join(dataDir, 'templates'), pool: join(dataDir, 'run', 'pool') };
}

export function templateDir(dirs: TemplateDirs, id: string): string {
  return join(dirs.templates, id);
}

export const TEMPLATE_RECORD = 'forkd.json';

export interface TemplateRecord {
  templateId: string;
  /** The container image baked in (null: bare guest). */
  imageId: string | null;
  containers: string[];
  poolSize: number;
  buildMs: number;
  /**
   * A template made from a running container (a live fork's fork point or a
   * snapshot): what it was taken from. Its disk is backed by `parentTemplate`'s,
   * so that one stays while this one exists (services/hostd/live-fork/), or by
   * `diskBase`'s when its chain was flattened (fork/disk-chain.ts).
   */
  origin?: { containerId: string; vmId: string; parentTemplate: string; takenAt: string; diskBase?: string };
}

export async function writeTemplateRecord(dir: string, rec: TemplateRecord): Promise<void> {
  const path = join(dir, TEMPLATE_RECORD);
  await writeFile(`${path}.tmp`, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o644 });
  await rename(`${path}.tmp`, path);
}

/** The record, or null (a template built before the record existed, or a damaged one: pool size 0). */
export async function readTemplateRecord(dir: string): Promise<TemplateRecord | null> {
  try {
    const r = JSON.parse(await readFile(join(dir, TEMPLATE_RECORD), 'utf8')) as TemplateRecord;
    return typeof r?.templateId === 'string' && Number.isInteger(r.poolSize) ? r : null;
  } catch {
    return null;
  }
}

export async function listTemplateIds(dirs: TemplateDirs): Promise<string[]> {
  const names = await readdir(dirs.templates).catch(() => [] as string[]);
  return names.filter((n) => TEMPLATE_ID_RE.test(n)).sort();
}
