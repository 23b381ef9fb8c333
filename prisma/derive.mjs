// Derives prisma/postgresql/schema.prisma from prisma/schema.prisma (SQLite,
// the source of truth). A Prisma schema is bound to one provider, so the
// PostgreSQL client needs its own copy; only the datasource provider and the
// generated client's output differ. Plain JS so `node prisma/generate.mjs`
// runs it before anything is compiled; types in derive.d.mts.

export const DERIVED_HEADER =
  '// GENERATED from ../schema.prisma by `node prisma/generate.mjs`. Do not edit:\n' +
  '// change ../schema.prisma and run the script (prisma/README.md).\n\n';

/**
 * @param {string} sqliteSchema the text of prisma/schema.prisma
 * @returns {string} the text of prisma/postgresql/schema.prisma
 */
export function derivePostgresSchema(sqliteSchema) {
  let out = sqliteSchema;
  out = replaceOnce(out, /(datasource\s+db\s*\{[^}]*?provider\s*=\s*)"sqlite"/, '$1"postgresql"', 'datasource db { provider = "sqlite" }');
  out = replaceOnce(out, /(output\s*=\s*)"\.\/generated\/sqlite"/, '$1"../generated/postgresql"', 'output = "./generated/sqlite"');
  return DERIVED_HEADER + out;
}

function replaceOnce(text, pattern, replacement, what) {
  if (!pattern.test(text)) throw new Error(`prisma/schema.prisma: expected ${what}`);
  return text.replace(pattern, replacement);
}
