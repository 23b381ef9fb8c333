// The multiplexed stream of a container without a TTY: each chunk goes out
// behind an 8-byte header [stream, 0, 0, 0, size as big-endian uint32]
// (1 stdout, 2 stderr); the client demultiplexes by it. With a TTY the bytes
// go raw, which is why every writer asks `frame(kind, data, tty)`.

export const STREAM_STDIN = 0;
export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;

export type OutputKind = 'stdout' | 'stderr';

/** One chunk as the client expects it: framed without a TTY, raw with one. */
export function frame(kind: OutputKind, data: Buffer, tty: boolean): Buffer {
  if (tty) return data;
  const header = Buffer.alloc(8);
  header[0] = kind === 'stdout' ? STREAM_STDOUT : STREAM_STDERR;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

/** The inverse, for tests and clients: whole frames out of a buffer, and what is left over. */
export function readFrames(buf: Buffer): { frames: Array<{ stream: number; data: Buffer }>; rest: Buffer } {
  const frames: Array<{ stream: number; data: Buffer }> = [];
  let at = 0;
  while (buf.length - at >= 8) {
    const size = buf.readUInt32BE(at + 4);
    if (buf.length - at - 8 < size) break;
    frames.push({ stream: buf[at]!, data: buf.subarray(at + 8, at + 8 + size) });
    at += 8 + size;
  }
  return { frames, rest: buf.subarray(at) };
}
