// Streaming tar reader: ustar, GNU long names (L/K) and base-256 numbers, PAX
// local and global headers. Treats its input as hostile: checksums verified,
// sizes bounded, truncation and garbage reported as ERR_IMAGE_INVALID.

import { ByteReader, toChunks, type ByteSource } from './byte-reader.js';
import { applyPax, BLOCK, decodeHeader, invalid, isZeroBlock, parsePax, type TarHeader } from './header.js';

export interface TarEntry {
  header: TarHeader;
  /** The entry's data. Read it before asking for the next entry, or it is skipped. */
  body: AsyncIterable<Buffer>;
}

export interface ReadTarOptions {
  /**
   * Largest PAX or GNU long-name record accepted (default 1 MiB); also the most
   * such records may add up to in front of one entry, and global PAX records
   * over the whole archive, so a run of records cannot pile up in memory.
   */
  maxMetaSize?: number;
  /** Largest single entry (default: any safe integer). */
  maxEntrySize?: number;
  /** Accept a stream that ends at a header boundary without the zero blocks (default false). */
  allowMissingEnd?: boolean;
  /**
   * After the end-of-archive marker: 'close' stops reading and returns the
   * source iterator (a Node stream is destroyed); 'drain' reads and discards
   * the rest (record padding) so the producer sees its stream consumed to the
   * end. Default 'close'.
   */
  atEnd?: 'close' | 'drain';
}

/** Types whose size field never has data behind it (as Go's archive/tar). */
const HEADER_ONLY = new Set(['hardlink', 'symlink', 'chardev', 'blockdev', 'directory', 'fifo']);

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

export async function* readTar(source: ByteSource, opts: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const maxMeta = opts.maxMetaSize ?? 1 << 20;
  const maxEntry = opts.maxEntrySize ?? Number.MAX_SAFE_INTEGER;
  const reader = new ByteReader(toChunks(source));
  let globalPax: Record<string, string> = {};
  let localPax: Record<string, string> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let remaining = 0; // unread body bytes of the entry last yielded
  let pad = 0;
  let localMeta = 0; // bytes of the records waiting for the next entry
  let globalMeta = 0; // bytes of every global PAX record so far

  const readMeta = async (size: number, what: string): Promise<Buffer> => {
    if (size > maxMeta) throw invalid(`tar: ${what} of ${size} bytes exceeds the ${maxMeta}-byte limit`);
    // Each record alone may be under the limit while a run of them (distinct
    // PAX keys merge, they do not replace) grows without end.
    const total = what === 'PAX global header' ? (globalMeta += size) : (localMeta += size);
    if (total > maxMeta) throw invalid(`tar: ${what} records add up to more than the ${maxMeta}-byte limit`);
    const data = await reader.read(size);
    if (data.length < size) throw invalid(`tar: truncated inside a ${what}`);
    const p = padding(size);
    if ((await reader.skip(p)) < p) throw invalid(`tar: truncated inside a ${what}`);
    return data;
  };

  try {
    for (;;) {
      if (remaining + pad > 0) {
        const want = remaining + pad;
        if ((await reader.skip(want)) < want) throw invalid('tar: truncated entry data');
        remaining = 0;
        pad = 0;
      }
      const at = reader.position;
      const block = await reader.read(BLOCK);
      if (block.length === 0) {
        if (opts.allowMissingEnd && localPax === undefined && longName === undefined && longLink === undefined) return;
        throw invalid(`tar: truncated at offset ${at} (no end-of-archive marker)`);
      }
      if (block.length < BLOCK) throw invalid(`tar: truncated header at offset ${at}`);
      if (isZeroBlock(block)) {
        const next = await reader.read(BLOCK);
        if (next.length === 0 || isZeroBlock(next)) {
          if (opts.atEnd === 'drain') while ((await reader.readSome(1 << 16)).length > 0);
          return;
        }
        throw invalid(`tar: data after an end-of-archive block at offset ${at}`);
      }
      const header = decodeHeader(block);
      if (header.size > maxEntry) throw invalid(`tar: entry ${JSON.stringify(header.name)} of ${header.size} bytes exceeds the limit`);
      switch (header.type) {
        case 'pax-header':
          localPax = { ...localPax, ...parsePax(await readMeta(header.size, 'PAX header')) };
          continue;
        case 'pax-global':
          globalPax = { ...globalPax, ...parsePax(await readMeta(header.size, 'PAX global header')) };
          continue;
        case 'gnu-longname':
          longName = (await readMeta(header.size, 'GNU long name')).toString('utf8').replace(/\0+$/, '');
          continue;
        case 'gnu-longlink':
          longLink = (await readMeta(header.size, 'GNU long link')).toString('utf8').replace(/\0+$/, '');
          continue;
        default:
          break;
      }
      if (longName !== undefined) header.name = longName;
      if (longLink !== undefined) header.linkname = longLink;
      applyPax(header, globalPax);
      if (localPax !== undefined) applyPax(header, localPax);
      localPax = undefined;
      longName = undefined;
      longLink = undefined;
      localMeta = 0;
      if (header.size > maxEntry) throw invalid(`tar: entry ${JSON.stringify(header.name)} of ${header.size} bytes exceeds the limit`);
      if (HEADER_ONLY.has(header.type)) header.size = 0;
      remaining = header.size;
      pad = padding(header.size);
      const entryName = header.name;
      const body = async function* (): AsyncGenerator<Buffer> {
        while (remaining > 0) {
          const chunk = await reader.readSome(remaining);
          if (chunk.length === 0) throw invalid(`tar: truncated data of ${JSON.stringify(entryName)}`);
          remaining -= chunk.length;
          yield chunk;
        }
      };
      yield { header, body: body() };
    }
  } finally {
    await reader.close();
  }
}

/** Reads a whole (small) entry body into memory, bounded by `limit`. */
export async function readBody(entry: TarEntry, limit: number): Promise<Buffer> {
  if (entry.header.size > limit) throw invalid(`${entry.header.name}: ${entry.header.size} bytes exceeds the ${limit}-byte limit`);
  const parts: Buffer[] = [];
  for await (const chunk of entry.body) parts.push(chunk);
  return Buffer.concat(parts);
}
