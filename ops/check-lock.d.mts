// Types for check-lock.mjs (plain JavaScript so bootstrap.sh can run it before the build).
export function lockProblems(pkg: unknown, lock: unknown): string[];
