// Lifecycle events shared by hostd and the API: the shape (event.ts), the
// publisher (publish.ts), the reader (read.ts) and the visibility rule
// (filters.ts). docs/operability.md describes the stream for operators.
export * from './event.js';
export * from './filters.js';
export * from './publish.js';
export * from './read.js';
