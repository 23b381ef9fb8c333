// The fork's format version: one number for how the pieces save and restore
// (domain XML shape, RAM backend id and mapping, device-state stream, disk
// layout). A template written under another version is stale and rebuilt.
// Bump it when any piece changes what it writes or expects to read.
export const FORK_FORMAT_VERSION = 1;
