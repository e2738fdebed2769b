/**
 * The msgpack reader of envelopes, the counterpart of envelope-writer.ts: one pass over the
 * bytes that checks them against the decode limits (msgpack-bounds.ts) and builds the message,
 * where the bounds check and msgpackr's reader each make a pass of their own. It reads the
 * plain data the writer writes, and reads it as msgpackr's envelope reader does:
 *
 * - maps as plain objects, string keys only (a key `__proto__` becomes `__proto_`, as msgpackr
 *   makes it); a later duplicate key wins;
 * - arrays; ASCII strings; integers up to 32 bits and float64; nil, booleans;
 * - byte arrays as views of the message's bytes (no copy, as msgpackr's `subarray`);
 * - msgpackr's undefined (fixext 1 of type 0).
 *
 * At the first byte of anything else (a string that is not ASCII, a 64-bit integer, a float32,
 * any other extension, a record), and for bytes that are not well formed or go past a limit,
 * it gives up: `readEnvelope` returns NOT_PLAIN and the caller decodes the message with the
 * bounds check and msgpackr, which decode or refuse it exactly as before (their error messages
 * included). Giving up is only ever a slower path: nothing is allocated for a container before
 * its count is checked against the bytes left, the depth and the number of containers are held
 * to the limits as the bounds check holds them, no code outside this file runs while it reads,
 * and it reads only messages of up to 64 KiB (MAX_READ_BYTES) and 1,000 levels deep: what it
 * builds before it finds a limit passed stays small, and so does its stack.
 *
 * Why it pays: a 256-byte task message took a worker 1.8 µs in msgpackr (whose key cache is
 * off for messages of 180 bytes or more without its native string decoder, which workers do
 * not load) and 0.2 µs in the bounds check.
 */
import { u16, u32, type DecodeLimits } from './msgpack-bounds';

/** The message is not plain, well-formed data within the limits: decode it the other way. */
export const NOT_PLAIN: unique symbol = Symbol('not a plain envelope');

/** Thrown inside the reader to give up; caught by `readEnvelope` only. */
class GiveUp {}
const GIVE_UP = new GiveUp();

/**
 * Larger messages are left to the bounds check and msgpackr. The reader finds a message past
 * the limit on its containers only once it has built them. Up to this size that is no more
 * than msgpackr would build from a message the bounds check lets through (the default limits
 * allow 65,536 containers in any message, and `owed` keeps the slots reserved within the
 * message's size): a few megabytes. From 16 MB of array headers it would be hundreds, where
 * the bounds check refuses them before anything is built.
 */
const MAX_READ_BYTES = 64 * 1024;
/**
 * Deeper messages are left to the bounds check and msgpackr too: the reader recurses, and a
 * limit configured in the thousands would overflow its stack first.
 */
const MAX_READ_DEPTH = 1000;
/** Keys of at most this many bytes are cached (the same few field names in every message). */
const MAX_CACHED_KEY = 24;
const KEY_SLOTS = 1024;

/** One cached key: its bytes and its string. */
interface KeySlot {
  readonly bytes: Uint8Array;
  readonly key: string;
}
const keySlots: Array<KeySlot | undefined> = new Array<KeySlot | undefined>(KEY_SLOTS).fill(undefined);

let src: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
let containers = 0;
let maxContainers = 0;
let maxDepth = 0;
/**
 * Elements the open containers still owe (each takes at least a byte after `pos`): a count is
 * checked against the bytes left less these, so nested containers cannot each claim the whole
 * message (slots reserved by `new Array(count)` add up to at most the message's size).
 */
let owed = 0;

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
/** Whether this machine stores a float64's bytes little-endian (msgpack's are big-endian). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;

/**
 * The message in `bytes`, or NOT_PLAIN (see the file comment). The top-level value must be a
 * map, as every raybus envelope is.
 */
export function readEnvelope(bytes: Uint8Array, limits: DecodeLimits): unknown {
  const n = bytes.byteLength;
  if (n === 0 || n > limits.maxBytes || n > MAX_READ_BYTES) return NOT_PLAIN;
  const first = bytes[0]!;
  if (!((first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf)) return NOT_PLAIN;
  src = bytes;
  pos = 0;
  end = n;
  containers = 0;
  owed = 0;
  maxContainers = Math.max(limits.minContainers, Math.floor(n * limits.containersPerByte));
  maxDepth = Math.min(limits.maxDepth, MAX_READ_DEPTH);
  try {
    const value = read(0);
    return pos === end ? value : NOT_PLAIN;
  } catch (err) {
    if (err === GIVE_UP) return NOT_PLAIN;
    throw err;
  } finally {
    // Hold no message past its read.
    src = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * A container of `count` elements opens at `depth` (the non-empty containers around it),
 * counted and held to the depth as msgpack-bounds.ts does; its elements and those the open
 * containers still owe must fit in the bytes left.
 */
function open(count: number, depth: number): void {
  if (++containers > maxContainers || count > end - pos - owed) throw GIVE_UP;
  // The bounds check refuses a non-empty container once its stack (the top-level value's slot
  // and the open containers) holds maxDepth entries.
  if (count > 0 && depth + 1 >= maxDepth) throw GIVE_UP;
  owed += count;
}

function need(n: number): void {
  if (pos + n > end) throw GIVE_UP;
}

function read(depth: number): unknown {
  if (pos >= end) throw GIVE_UP;
  const b = src[pos++]!;
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b <= 0x8f) return readMap(b & 0x0f, depth);
  if (b <= 0x9f) return readArray(b & 0x0f, depth);
  if (b <= 0xbf) return readString(b & 0x1f);
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      need(1);
      return readBytes(src[pos++]!);
    case 0xc5:
      need(2);
      pos += 2;
      return readBytes(u16(src, pos - 2));
    case 0xc6:
      need(4);
      pos += 4;
      return readBytes(u32(src, pos - 4));
    case 0xcb:
      return readFloat64();
    case 0xcc:
      need(1);
      return src[pos++]!;
    case 0xcd:
      need(2);
      pos += 2;
      return u16(src, pos - 2);
    case 0xce:
      need(4);
      pos += 4;
      return u32(src, pos - 4);
    case 0xd0: {
      need(1);
      const v = src[pos++]!;
      return v >= 0x80 ? v - 0x100 : v;
    }
    case 0xd1: {
      need(2);
      pos += 2;
      const v = u16(src, pos - 2);
      return v >= 0x8000 ? v - 0x10000 : v;
    }
    case 0xd2: {
      need(4);
      pos += 4;
      return u32(src, pos - 4) | 0;
    }
    case 0xd4:
      // msgpackr's undefined: fixext 1 of type 0 and a filler byte; another type gives up.
      need(2);
      if (src[pos] !== 0) throw GIVE_UP;
      if (++containers > maxContainers) throw GIVE_UP;
      pos += 2;
      return undefined;
    case 0xd9:
      need(1);
      return readString(src[pos++]!);
    case 0xda:
      need(2);
      pos += 2;
      return readString(u16(src, pos - 2));
    case 0xdb:
      need(4);
      pos += 4;
      return readString(u32(src, pos - 4));
    case 0xdc:
      need(2);
      pos += 2;
      return readArray(u16(src, pos - 2), depth);
    case 0xdd:
      need(4);
      pos += 4;
      return readArray(u32(src, pos - 4), depth);
    case 0xde:
      need(2);
      pos += 2;
      return readMap(u16(src, pos - 2), depth);
    case 0xdf:
      need(4);
      pos += 4;
      return readMap(u32(src, pos - 4), depth);
    default:
      throw GIVE_UP;
  }
}

function readArray(count: number, depth: number): unknown[] {
  open(count, depth);
  const out = new Array<unknown>(count);
  for (let i = 0; i < count; i++) {
    owed -= 1;
    out[i] = read(depth + 1);
  }
  return out;
}

function readMap(count: number, depth: number): Record<string, unknown> {
  // Keys and values: every one takes at least a byte.
  open(count * 2, depth);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    owed -= 2;
    let key = readKey();
    if (key === '__proto__') key = '__proto_';
    out[key] = read(depth + 1);
  }
  return out;
}

/** A map key: a string (msgpackr turns other keys into strings; they give up here). */
function readKey(): string {
  if (pos >= end) throw GIVE_UP;
  const b = src[pos]!;
  let n: number;
  if (b >= 0xa0 && b <= 0xbf) {
    n = b & 0x1f;
    pos += 1;
  } else if (b === 0xd9) {
    need(2);
    n = src[pos + 1]!;
    pos += 2;
  } else throw GIVE_UP;
  if (n > MAX_CACHED_KEY) return readString(n);
  need(n);
  // The slot: from the length and four of the bytes (n > 0: an empty key has slot 0).
  const slot = n === 0 ? 0 : (((n * 31 + src[pos]!) * 31 + src[pos + 1 < pos + n ? pos + 1 : pos]!) * 31 + src[pos + (n >> 1)]! * 7 + src[pos + n - 1]!) & (KEY_SLOTS - 1);
  const known = keySlots[slot];
  if (known !== undefined && known.bytes.length === n) {
    const kb = known.bytes;
    let i = 0;
    while (i < n && kb[i] === src[pos + i]) i++;
    if (i === n) {
      pos += n;
      return known.key;
    }
  }
  const start = pos;
  const key = readString(n);
  // A copy: a Buffer's own slice is a view, and the message's memory may be written again.
  keySlots[slot] = { bytes: Uint8Array.prototype.slice.call(src, start, start + n), key };
  return key;
}

/** An ASCII string of `n` bytes at `pos` (anything else gives up: msgpackr decodes it). */
function readString(n: number): string {
  need(n);
  const start = pos;
  const stop = start + n;
  if (n < 4) {
    // Very short: no call out of JavaScript.
    let s = '';
    for (let i = start; i < stop; i++) {
      const c = src[i]!;
      if (c >= 0x80) throw GIVE_UP;
      s += String.fromCharCode(c);
    }
    pos = stop;
    return s;
  }
  for (let i = start; i < stop; i++) if (src[i]! >= 0x80) throw GIVE_UP;
  pos = stop;
  return latin1Slice.call(src, start, stop);
}

function readBytes(n: number): Uint8Array {
  need(n);
  pos += n;
  return src.subarray(pos - n, pos);
}

function readFloat64(): number {
  need(8);
  if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) f64Bytes[7 - i] = src[pos + i]!;
  else for (let i = 0; i < 8; i++) f64Bytes[i] = src[pos + i]!;
  pos += 8;
  return f64[0]!;
}
