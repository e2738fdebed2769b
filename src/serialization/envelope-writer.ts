/**
 * The msgpack writer of envelopes (the messages raybus sends: plain objects, arrays, strings,
 * numbers, booleans, null, undefined and byte arrays). It writes what msgpackr's envelope
 * encoder writes, as far as any msgpack reader can tell, for less work per message:
 *
 * - map keys (the same few field names in every message) are written from their cached bytes;
 * - a frozen plain object whose values are primitives or such objects (a job's context, a
 *   function's descriptor: shared by every task of a run) is written once and its bytes
 *   copied after that;
 * - ASCII strings are written by a loop, without asking for their UTF-8 length first.
 *
 * A value of any other kind (a Map, a Date, a class instance, a typed array other than bytes)
 * makes `writeEnvelope` return undefined: the caller encodes that message with msgpackr.
 *
 * Asked to gather, it leaves byte arrays of GATHER_BYTES or more out of the message, beside it
 * (gathered-bytes.ts): a pipe writes them as they are.
 */
import { GATHER_BYTES, GatheredBytes, type Hole } from './gathered-bytes';

/** The value is not an envelope this writer knows: the caller falls back to msgpackr. */
class NotAnEnvelope extends Error {}
const NOT_AN_ENVELOPE = new NotAnEnvelope('not an envelope of plain data');

/** Keys of at most this many characters are cached, up to MAX_KEYS of them. */
const MAX_KEY_LENGTH = 64;
const MAX_KEYS = 4096;
/** The buffer messages are written into, and the room a new message wants left in it. */
const BUFFER_BYTES = 64 * 1024;
const ROOM = 4096;
/** Deepest nesting written (the envelope limits refuse far less on arrival). */
const MAX_DEPTH = 512;

const keys = new Map<string, Uint8Array>();
/** Bytes of frozen plain objects of primitives (and of such objects), by object. */
const frozenBytes = new WeakMap<object, Uint8Array>();

let buf = Buffer.allocUnsafe(BUFFER_BYTES);
/** Where the message being written starts in `buf`, and where its next byte goes. */
let base = 0;
let pos = 0;
/**
 * While a large message is written in a buffer of its own: the shared buffer, and where in it
 * the next message goes (where the large one had started).
 */
let shared: typeof buf | undefined;
let sharedAt = 0;
/** Large byte arrays are left out of the message being written (its offsets, their bytes). */
let gather = false;
let holes: Hole[] | undefined;

/**
 * Room for `n` more bytes. Out of room, the message so far moves to a new buffer at its start
 * (the earlier messages stay where they are, in the old one); offsets into the message are
 * kept relative to `base` for that reason. A message that needs more than half a shared
 * buffer (a 100 KB argument) gets one of its own, as large as it needs and ROOM more, and the
 * shared buffer takes the next messages from where it had started (the collector counts every
 * byte allocated outside its heap, so such a message allocates about its own size once). A
 * smaller one moves to a new shared buffer of BUFFER_BYTES; a message that outgrows a buffer
 * of its own moves to one twice as large as it needs.
 */
function ensure(n: number): void {
  if (pos + n <= buf.length) return;
  const written = pos - base;
  const need = written + n;
  let grown: typeof buf;
  if (shared === undefined && need > BUFFER_BYTES / 2) {
    grown = Buffer.allocUnsafe(need + ROOM);
    shared = buf;
    sharedAt = base;
  } else grown = Buffer.allocUnsafe(Math.max(BUFFER_BYTES, 2 * need));
  buf.copy(grown, 0, base, pos);
  buf = grown;
  base = 0;
  pos = written;
}

/** A message written in a buffer of its own is done (or abandoned): back to the shared one. */
function backToShared(): boolean {
  if (shared === undefined) return false;
  buf = shared;
  pos = sharedAt;
  shared = undefined;
  return true;
}

function copyIn(bytes: Uint8Array): void {
  const n = bytes.length;
  ensure(n);
  if (n <= 64) for (let i = 0; i < n; i++) buf[pos + i] = bytes[i]!;
  else buf.set(bytes, pos);
  pos += n;
}

function writeString(s: string): void {
  const length = s.length;
  ensure(5 + 3 * length);
  if (length < 32) {
    // fixstr of ASCII: one byte of header, one per character.
    const start = pos++;
    let i = 0;
    for (; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[pos++] = c;
    }
    if (i === length) {
      buf[start] = 0xa0 | length;
      return;
    }
    pos = start;
  }
  const n = Buffer.byteLength(s, 'utf8');
  writeHeader(n, 0xa0, 32, 0xd9, 0xda);
  pos += buf.write(s, pos, n, 'utf8');
}

function writeKey(k: string): void {
  const known = keys.get(k);
  if (known !== undefined) return copyIn(known);
  const start = pos - base;
  writeString(k);
  if (k.length <= MAX_KEY_LENGTH && keys.size < MAX_KEYS) keys.set(k, Buffer.from(buf.subarray(base + start, pos)));
}

function writeNumber(v: number): void {
  ensure(9);
  if (Number.isInteger(v)) {
    if (v >= 0) {
      if (v < 0x80) {
        buf[pos++] = v;
        return;
      }
      if (v < 0x100) {
        buf[pos++] = 0xcc;
        buf[pos++] = v;
        return;
      }
      if (v < 0x10000) {
        buf[pos++] = 0xcd;
        buf[pos++] = v >> 8;
        buf[pos++] = v & 0xff;
        return;
      }
      if (v < 0x100000000) {
        buf[pos++] = 0xce;
        buf.writeUInt32BE(v, pos);
        pos += 4;
        return;
      }
    } else if (v >= -0x80000000) {
      if (v >= -32) buf[pos++] = v & 0xff;
      else if (v >= -0x80) {
        buf[pos++] = 0xd0;
        buf[pos++] = v & 0xff;
      } else if (v >= -0x8000) {
        buf[pos++] = 0xd1;
        buf.writeInt16BE(v, pos);
        pos += 2;
      } else {
        buf[pos++] = 0xd2;
        buf.writeInt32BE(v, pos);
        pos += 4;
      }
      return;
    }
  }
  // Fractions, NaN, infinities and integers beyond 32 bits: float64, exact for every number.
  buf[pos++] = 0xcb;
  buf.writeDoubleBE(v, pos);
  pos += 8;
}

/**
 * The header of a string, byte array or array of `n`: its fix form below `fixMax` (0: none),
 * its 8-bit form where it has one (`code8`, 0: none), then the 16-bit form `code16`, then the
 * 32-bit one (`code16 + 1`, as in every msgpack family).
 */
function writeHeader(n: number, fix: number, fixMax: number, code8: number, code16: number): void {
  ensure(5);
  if (n < fixMax) buf[pos++] = fix | n;
  else if (code8 !== 0 && n < 0x100) {
    buf[pos++] = code8;
    buf[pos++] = n;
  } else if (n < 0x10000) {
    buf[pos++] = code16;
    buf[pos++] = n >> 8;
    buf[pos++] = n & 0xff;
  } else {
    buf[pos++] = code16 + 1;
    buf.writeUInt32BE(n, pos);
    pos += 4;
  }
}

/** Writes `v`; returns true when it is a primitive (for the frozen-object cache). */
function write(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
      writeString(v);
      return true;
    case 'number':
      writeNumber(v);
      return true;
    case 'boolean':
      ensure(1);
      buf[pos++] = v ? 0xc3 : 0xc2;
      return true;
    case 'undefined':
      // msgpackr's undefined: fixext 1 of type 0.
      ensure(3);
      buf[pos++] = 0xd4;
      buf[pos++] = 0;
      buf[pos++] = 0;
      return true;
    case 'object':
      break;
    default:
      throw NOT_AN_ENVELOPE;
  }
  if (v === null) {
    ensure(1);
    buf[pos++] = 0xc0;
    return true;
  }
  if (depth > MAX_DEPTH) throw NOT_AN_ENVELOPE;
  if (Array.isArray(v)) {
    const n = v.length;
    writeHeader(n, 0x90, 16, 0, 0xdc);
    for (let i = 0; i < n; i++) write(v[i], depth + 1);
    return false;
  }
  if (v instanceof Uint8Array) {
    const n = v.byteLength;
    writeHeader(n, 0, 0, 0xc4, 0xc5);
    ensure(n);
    if (gather && n >= GATHER_BYTES) (holes ??= []).push({ at: pos - base, bytes: v });
    else buf.set(v, pos);
    pos += n;
    return false;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) throw NOT_AN_ENVELOPE;
  const frozen = Object.isFrozen(v);
  if (frozen) {
    const known = frozenBytes.get(v);
    if (known !== undefined) {
      copyIn(known);
      return false;
    }
  }
  // map16, its count filled in after the entries (as msgpackr does for plain objects).
  ensure(3);
  const start = pos - base;
  buf[pos] = 0xde;
  pos += 3;
  let n = 0;
  let flat = true;
  const o = v as Record<string, unknown>;
  for (const k in o) {
    writeKey(k);
    const child = o[k];
    if (!write(child, depth + 1) && !(typeof child === 'object' && child !== null && frozenBytes.has(child))) flat = false;
    n++;
  }
  if (n > 0xffff) throw NOT_AN_ENVELOPE;
  buf[base + start + 1] = n >> 8;
  buf[base + start + 2] = n & 0xff;
  // Frozen, and everything in it fixed too: these bytes stand for it from now on.
  if (flat && frozen) frozenBytes.set(v, Buffer.from(buf.subarray(base + start, pos)));
  return false;
}

/**
 * `value` as msgpack, or undefined when it holds something other than plain data. With
 * `gatherLarge`, byte arrays of GATHER_BYTES or more are not copied in: the message is then a
 * GatheredBytes, for a transport that writes it to a pipe (gathered-bytes.ts). The arrays
 * must not change while it lives.
 */
export function writeEnvelope(value: unknown, gatherLarge = false): Uint8Array | undefined {
  if (buf.length - pos < ROOM) {
    buf = Buffer.allocUnsafe(BUFFER_BYTES);
    pos = 0;
  }
  base = pos;
  gather = gatherLarge;
  holes = undefined;
  try {
    write(value, 0);
  } catch (err) {
    pos = base;
    holes = undefined;
    backToShared();
    if (err === NOT_AN_ENVELOPE) return undefined;
    throw err;
  }
  const left = holes;
  holes = undefined;
  const out = left ? GatheredBytes.over(buf.subarray(base, pos), left) : buf.subarray(base, pos);
  // A message written in a buffer of its own keeps it; the next ones go on in the shared one
  // (which stays BUFFER_BYTES long: only a message of at most half of it moves to a new one).
  backToShared();
  return out;
}
