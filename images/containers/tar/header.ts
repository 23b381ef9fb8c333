// Tar header encoding and decoding: ustar blocks, GNU base-256 numbers, PAX
// records. Pure functions over 512-byte blocks; the streaming reader and the
// writer build on them. Node built-ins only (bundled into the guest agent).

import { ForkdError } from '../../../services/contracts/errors.js';

export const BLOCK = 512;

export type TarEntryType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'chardev'
  | 'blockdev'
  | 'directory'
  | 'fifo'
  | 'pax-header'
  | 'pax-global'
  | 'gnu-longname'
  | 'gnu-longlink'
  | 'unsupported';

/** One entry's metadata after PAX and GNU long-name records were applied. */
export interface TarHeader {
  name: string;
  type: TarEntryType;
  /** The raw typeflag character ('0', '5', 'x', …). */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (PAX may carry fractions). */
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'chardev',
  '4': 'blockdev',
  '5': 'directory',
  '6': 'fifo',
  x: 'pax-header',
  g: 'pax-global',
  L: 'gnu-longname',
  K: 'gnu-longlink',
};

const FLAGS: Partial<Record<TarEntryType, string>> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  directory: '5',
  fifo: '6',
  'pax-header': 'x',
  'pax-global': 'g',
  'gnu-longname': 'L',
  'gnu-longlink': 'K',
};

export function invalid(message: string): ForkdError {
  return new ForkdError('ERR_IMAGE_INVALID', message);
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function cString(block: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && block[end] !== 0) end++;
  return Buffer.from(block.buffer, block.byteOffset + off, end - off).toString('utf8');
}

/** Octal (space/NUL padded) or GNU base-256 (high bit set) number field. */
export function parseNumber(block: Uint8Array, off: number, len: number, field: string): number {
  const first = block[off] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw invalid(`tar: negative base-256 ${field}`);
    let value = first & 0x7f;
    for (let i = 1; i < len; i++) {
      value = value * 256 + (block[off + i] ?? 0);
      if (value > Number.MAX_SAFE_INTEGER) throw invalid(`tar: ${field} field is too large`);
    }
    return value;
  }
  const text = cString(block, off, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalid(`tar: ${field} field is not an octal number (${JSON.stringify(text)})`);
  const value = parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw invalid(`tar: ${field} field is too large`);
  return value;
}

function checksum(block: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return { unsigned, signed };
}

/** Decodes one header block. The checksum is verified; magic may be ustar, GNU or v7. */
export function decodeHeader(block: Uint8Array): TarHeader {
  if (block.length !== BLOCK) throw invalid('tar: short header block');
  const stored = parseNumber(block, 148, 8, 'checksum');
  const sum = checksum(block);
  if (stored !== sum.unsigned && stored !== sum.signed) throw invalid('tar: header checksum mismatch (corrupt or not a tar)');
  const typeflag = String.fromCharCode(block[156] ?? 0);
  const magic = cString(block, 257, 6);
  const ustar = magic === 'ustar' || magic === 'ustar ';
  let name = cString(block, 0, 100);
  // POSIX ustar keeps a prefix in 345..500; GNU uses that area for other things.
  if (magic === 'ustar' && block[345] !== 0) name = `${cString(block, 345, 155)}/${name}`;
  return {
    name,
    type: TYPES[typeflag] ?? 'unsupported',
    typeflag,
    mode: parseNumber(block, 100, 8, 'mode') & 0o7777,
    uid: parseNumber(block, 108, 8, 'uid'),
    gid: parseNumber(block, 116, 8, 'gid'),
    size: parseNumber(block, 124, 12, 'size'),
    mtime: parseNumber(block, 136, 12, 'mtime'),
    linkname: cString(block, 157, 100),
    uname: ustar ? cString(block, 265, 32) : '',
    gname: ustar ? cString(block, 297, 32) : '',
    devmajor: ustar ? parseNumber(block, 329, 8, 'devmajor') : 0,
    devminor: ustar ? parseNumber(block, 337, 8, 'devminor') : 0,
  };
}

/** Parses PAX extended header records: `<len> <key>=<value>\n`. */
export function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad with NULs
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw invalid('tar: malformed PAX record (no length)');
    const lenText = data.toString('latin1', pos, space);
    if (!/^[0-9]+$/.test(lenText)) throw invalid('tar: malformed PAX record length');
    const len = Number(lenText);
    if (len <= space - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw invalid('tar: malformed PAX record');
    }
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw invalid('tar: malformed PAX record (no key)');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

export function encodePax(records: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    const bodyLen = Buffer.byteLength(body);
    let len = bodyLen + String(bodyLen).length;
    if (String(len).length + bodyLen !== len) len = bodyLen + String(len).length;
    parts.push(Buffer.from(`${len}${body}`, 'utf8'));
  }
  return Buffer.concat(parts);
}

/** Applies PAX keys (path, linkpath, size, mtime, uid, gid, uname, gname) to a header. */
export function applyPax(header: TarHeader, pax: Record<string, string>): void {
  const num = (key: string): number | undefined => {
    const v = pax[key];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) throw invalid(`tar: bad PAX ${key} ${JSON.stringify(v)}`);
    return n;
  };
  if (pax.path !== undefined) header.name = pax.path;
  if (pax.linkpath !== undefined) header.linkname = pax.linkpath;
  if (pax.uname !== undefined) header.uname = pax.uname;
  if (pax.gname !== undefined) header.gname = pax.gname;
  const size = num('size');
  if (size !== undefined) {
    if (!Number.isInteger(size)) throw invalid('tar: PAX size is not an integer');
    header.size = size;
  }
  header.mtime = num('mtime') ?? header.mtime;
  header.uid = num('uid') ?? header.uid;
  header.gid = num('gid') ?? header.gid;
}

function putString(block: Buffer, off: number, len: number, value: string): void {
  Buffer.from(value, 'utf8').copy(block, off, 0, len);
}

/** Octal if it fits in the field, else GNU base-256. */
function putNumber(block: Buffer, off: number, len: number, value: number): void {
  const octal = Math.floor(value).toString(8);
  if (octal.length <= len - 1) {
    block.write(octal.padStart(len - 1, '0'), off, 'latin1');
    block[off + len - 1] = 0;
    return;
  }
  let v = Math.floor(value);
  for (let i = len - 1; i > 0; i--) {
    block[off + i] = v % 256;
    v = Math.floor(v / 256);
  }
  block[off] = 0x80;
}

export interface EncodeFields {
  name: string;
  type: TarEntryType;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: number;
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
}

/** Encodes one ustar header block. Names must already fit (the writer handles long ones). */
export function encodeHeader(fields: EncodeFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  const flag = FLAGS[fields.type];
  if (flag === undefined) throw new Error(`tar: cannot encode entry type ${fields.type}`);
  putString(block, 0, 100, fields.name);
  putNumber(block, 100, 8, fields.mode ?? (fields.type === 'directory' ? 0o755 : 0o644));
  putNumber(block, 108, 8, fields.uid ?? 0);
  putNumber(block, 116, 8, fields.gid ?? 0);
  putNumber(block, 124, 12, fields.size ?? 0);
  putNumber(block, 136, 12, fields.mtime ?? 0);
  block.write(flag, 156, 'latin1');
  putString(block, 157, 100, fields.linkname ?? '');
  block.write('ustar\x0000', 257, 'latin1');
  putString(block, 265, 32, fields.uname ?? '');
  putString(block, 297, 32, fields.gname ?? '');
  putNumber(block, 329, 8, fields.devmajor ?? 0);
  putNumber(block, 337, 8, fields.devminor ?? 0);
  block.fill(0x20, 148, 156);
  const sum = checksum(block).unsigned;
  block.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
  block[154] = 0;
  block[155] = 0x20;
  return block;
}
