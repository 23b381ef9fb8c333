// The fork's format version: one number for how the pieces save and restore
// (domain XML shape, RAM backend id and mapping, device-state stream, disk
// layout). A template written under another version is stale and rebuilt.
// Bump it when any piece changes what it writes or expects to read.
//   2: the NIC has no option ROM (<rom enabled='no'/>; a ROM is a RAM block in
//      the migration stream, so a clone must match its template), and hostd
//      gives every template a NIC (FORKD_NETWORK).
export const FORK_FORMAT_VERSION = 2;
