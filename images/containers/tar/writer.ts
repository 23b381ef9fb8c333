// Tar writer: ustar headers, with a PAX (default) or GNU long-name record in
// front of any entry whose name or link target does not fit in 100 bytes.

import { BLOCK, encodeHeader, encodePax, type EncodeFields } from './header.js';

export interface TarInput extends EncodeFields {
  /** File data; its length must equal `size` (size defaults to the buffer's length). */
  body?: Buffer | (() => AsyncIterable<Uint8Array>);
}

export interface WriteTarOptions {
  longNames?: 'pax' | 'gnu';
  /** Write the two zero blocks at the end (default true). */
  end?: boolean;
}

export const TAR_END = Buffer.alloc(BLOCK * 2);

export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

function withData(fields: EncodeFields, data: Buffer): Buffer[] {
  return [encodeHeader(fields), data, tarPadding(data.length)];
}

/** The header block(s) for one entry, long-name records included. */
export function headerBlocks(fields: EncodeFields, longNames: 'pax' | 'gnu' = 'pax'): Buffer {
  const out: Buffer[] = [];
  const nameLong = Buffer.byteLength(fields.name) > 100;
  const linkLong = Buffer.byteLength(fields.linkname ?? '') > 100;
  let name = fields.name;
  let linkname = fields.linkname;
  if (nameLong || linkLong) {
    if (longNames === 'gnu') {
      if (nameLong) {
        const data = Buffer.from(`${fields.name}\0`);
        out.push(...withData({ name: '././@LongLink', type: 'gnu-longname', size: data.length }, data));
      }
      if (linkLong) {
        const data = Buffer.from(`${fields.linkname ?? ''}\0`);
        out.push(...withData({ name: '././@LongLink', type: 'gnu-longlink', size: data.length }, data));
      }
    } else {
      const records: Record<string, string> = {};
      if (nameLong) records.path = fields.name;
      if (linkLong) records.linkpath = fields.linkname ?? '';
      const data = encodePax(records);
      out.push(...withData({ name: 'PaxHeader', type: 'pax-header', size: data.length, mtime: fields.mtime ?? 0 }, data));
    }
    if (nameLong) name = Buffer.from(fields.name).subarray(0, 100).toString('utf8');
    if (linkLong) linkname = Buffer.from(fields.linkname ?? '').subarray(0, 100).toString('utf8');
  }
  out.push(encodeHeader({ ...fields, name, ...(linkname === undefined ? {} : { linkname }) }));
  return Buffer.concat(out);
}

/** Serialises entries to a tar stream. */
export async function* writeTar(
  entries: Iterable<TarInput> | AsyncIterable<TarInput>,
  opts: WriteTarOptions = {},
): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    const { body, ...fields } = entry;
    const size = fields.size ?? (Buffer.isBuffer(body) ? body.length : 0);
    yield headerBlocks({ ...fields, size }, opts.longNames);
    if (body === undefined) {
      if (size !== 0) throw new Error(`tar: ${fields.name} declares ${size} bytes but has no body`);
      continue;
    }
    let written = 0;
    if (Buffer.isBuffer(body)) {
      written = body.length;
      if (written > 0) yield body;
    } else {
      for await (const chunk of body()) {
        written += chunk.length;
        if (written > size) throw new Error(`tar: ${fields.name} grew past its declared ${size} bytes`);
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    }
    if (written !== size) throw new Error(`tar: ${fields.name} has ${written} bytes, declared ${size}`);
    const pad = tarPadding(size);
    if (pad.length > 0) yield pad;
  }
  if (opts.end !== false) yield TAR_END;
}
