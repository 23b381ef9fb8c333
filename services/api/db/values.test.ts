import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from './paths.js';
import { STRING_ENUMS } from './values.js';

// Every String field whose doc comment lists quoted values ('a' | 'b'), by Model.field.
function documentedEnums(schema: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let model = '';
  let doc = '';
  for (const line of schema.split('\n')) {
    const m = /^model\s+(\w+)/.exec(line);
    if (m) model = m[1]!;
    const d = /^\s*\/\/\/\s*(.*)$/.exec(line);
    if (d) {
      doc = d[1]!;
      continue;
    }
    const f = /^\s+(\w+)\s+String\??(\s|$)/.exec(line);
    if (f && /^'[^']+'(\s*\|\s*'[^']+')+/.test(doc)) out.set(`${model}.${f[1]}`, [...doc.matchAll(/'([^']+)'/g)].map((x) => x[1]!));
    doc = '';
  }
  return out;
}

describe('string enums', () => {
  const documented = documentedEnums(readFileSync(join(PACKAGE_ROOT, 'prisma', 'schema.prisma'), 'utf8'));

  it('values.ts lists exactly the values schema.prisma documents, field by field', () => {
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(Object.entries(STRING_ENUMS).map(([k, v]) => [k, [...v]])));
  });

  it('every default of such a field is one of its values', () => {
    const schema = readFileSync(join(PACKAGE_ROOT, 'prisma', 'schema.prisma'), 'utf8');
    for (const [key, values] of Object.entries(STRING_ENUMS)) {
      const [model, field] = key.split('.');
      const body = new RegExp(`model ${model} \\{([^}]*)\\}`).exec(schema)![1]!;
      const def = new RegExp(`^\\s+${field}\\s+String[^\\n]*@default\\("([^"]*)"\\)`, 'm').exec(body)?.[1];
      if (def !== undefined) expect(values).toContain(def);
    }
  });
});
