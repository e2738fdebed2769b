/**
 * A bounds check of msgpack bytes before they are decoded: one pass over the bytes that
 * allocates nothing and refuses input that would make the decoder allocate far more than its
 * own size. Each container's element count is checked against the bytes left (every element
 * takes at least one byte), nesting depth and the total number of values are capped, and every
 * length must fit in what remains. It follows the msgpackr dialect raybus writes: structured
 * clone extensions, some of which introduce the value that follows them (Set, Error, RegExp,
 * an object id for cycles, and raybus's own ref and handle extensions) and msgpackr's records
 * (a definition `d4 72 <id>` followed by the key array and the first record's values; later
 * bytes 0x40 + id stand for a record of as many values as it has keys). Two-byte record ids
 * and bundled strings, which raybus never writes, are refused.
 */

/** The limits one decode is held to. */
export interface DecodeLimits {
  /** Largest message, in bytes. */
  readonly maxBytes: number;
  /** Deepest nesting of arrays, maps and extensions. */
  readonly maxDepth: number;
  /**
   * Most arrays, maps and extensions per byte of message, on top of `minContainers`: an empty
   * array is one byte on the wire and tens of bytes in memory, so their number is what lets a
   * small message allocate a lot.
   */
  readonly containersPerByte: number;
  /** Arrays, maps and extensions always allowed, whatever the message's size. */
  readonly minContainers: number;
}

/** Thrown for bytes that are not a well-formed, bounded msgpack value. */
export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError';
}

/** msgpackr extension types whose decoder reads the value that follows the extension. */
const READS_NEXT_VALUE = new Set([0x65 /* Error */, 0x69 /* object id */, 0x73 /* Set */, 0x78 /* RegExp */]);
/** msgpackr features raybus does not write, refused outright. */
const REFUSED_EXTENSIONS = new Map([[0x62, 'bundled strings']]);
/** msgpackr's record definition extension. */
const RECORD_DEFINITION = 0x72;

/**
 * Check that `bytes` hold one msgpack value within `limits`; throws MalformedMessageError
 * naming what is wrong. `readsNext` adds extension types that introduce the next value
 * (extensions registered with `read`/`write`).
 */
export function checkMsgpack(bytes: Uint8Array, limits: DecodeLimits, readsNext: ReadonlySet<number> = READS_NEXT_VALUE): void {
  const end = bytes.byteLength;
  if (end > limits.maxBytes) throw new MalformedMessageError(`message of ${end} bytes is above the limit of ${limits.maxBytes} bytes`);
  if (end === 0) throw new MalformedMessageError('empty message');
  // `pending[d]`: values still expected at depth d. Depth 0 expects the one top-level value.
  const pending: number[] = [1];
  let pos = 0;
  let containers = 0;
  const maxContainers = Math.max(limits.minContainers, Math.floor(end * limits.containersPerByte));
  const container = (): void => {
    if (++containers > maxContainers) throw new MalformedMessageError(`more than ${maxContainers} arrays, maps and extensions in ${end} bytes`);
  };
  const need = (n: number, what: string): void => {
    if (pos + n > end) throw new MalformedMessageError(`truncated message: ${what} needs ${n} bytes at offset ${pos}, ${end - pos} left`);
  };
  const open = (count: number, what: string): void => {
    container();
    // Every element takes at least one byte: a count the bytes left cannot hold is a lie.
    if (count > end - pos) throw new MalformedMessageError(`${what} claims ${count} elements with ${end - pos} bytes left`);
    if (count === 0) return;
    if (pending.length >= limits.maxDepth) throw new MalformedMessageError(`nesting deeper than ${limits.maxDepth}`);
    pending.push(count);
  };
  // Field counts of the records defined so far in this message, by id (-1: none); made at the
  // first definition (envelopes have none, and this runs for every message).
  let records: Int32Array | undefined;
  const skipExt = (length: number): void => {
    need(1 + length, 'an extension');
    const type = bytes[pos]!;
    if (type === RECORD_DEFINITION) {
      if (length !== 1) throw new MalformedMessageError('two-byte msgpack record ids are not accepted');
      const id = bytes[pos + 1]! & 0x3f;
      pos += 2;
      // The keys come as an array; its length is the record's field count. The keys, then the
      // first record's values, take this value's place.
      need(1, 'record keys');
      const head = bytes[pos]!;
      let fields: number;
      if (head >= 0x90 && head <= 0x9f) fields = head & 0x0f;
      else if (head === 0xdc) {
        need(3, 'record keys');
        fields = u16(bytes, pos + 1);
      } else if (head === 0xdd) {
        need(5, 'record keys');
        fields = u32(bytes, pos + 1);
      } else throw new MalformedMessageError(`a msgpack record definition must list its keys in an array (byte 0x${head.toString(16)} at offset ${pos})`);
      if (fields > end - pos) throw new MalformedMessageError(`a record claims ${fields} fields with ${end - pos} bytes left`);
      (records ??= new Int32Array(64).fill(-1))[id] = fields;
      open(1 + fields, 'a record definition');
      return;
    }
    const refused = REFUSED_EXTENSIONS.get(type);
    if (refused) throw new MalformedMessageError(`msgpack ${refused} (extension 0x${type.toString(16)}) are not accepted`);
    pos += 1 + length;
    if (readsNext.has(type)) open(1, 'an extension');
    else container();
  };
  while (pending.length > 0) {
    const top = pending.length - 1;
    if (pending[top] === 0) {
      pending.pop();
      continue;
    }
    pending[top]! -= 1;
    need(1, 'a value');
    const b = bytes[pos++]!;
    if (records !== undefined && b >= 0x40 && b <= 0x7f && records[b & 0x3f]! >= 0) {
      open(records[b & 0x3f]!, 'a record');
      continue;
    }
    if (b <= 0x7f || b >= 0xe0) continue; // fixint
    if (b <= 0x8f) {
      open((b & 0x0f) * 2, 'a map');
      continue;
    }
    if (b <= 0x9f) {
      open(b & 0x0f, 'an array');
      continue;
    }
    if (b <= 0xbf) {
      const n = b & 0x1f;
      need(n, 'a string');
      pos += n;
      continue;
    }
    switch (b) {
      case 0xc0: // nil
      case 0xc1: // msgpackr: undefined / C1
      case 0xc2: // false
      case 0xc3: // true
        continue;
      case 0xc4:
      case 0xd9: {
        need(1, 'a length');
        const n = bytes[pos]!;
        pos += 1;
        need(n, 'a string or binary');
        pos += n;
        continue;
      }
      case 0xc5:
      case 0xda: {
        need(2, 'a length');
        const n = u16(bytes, pos);
        pos += 2;
        need(n, 'a string or binary');
        pos += n;
        continue;
      }
      case 0xc6:
      case 0xdb: {
        need(4, 'a length');
        const n = u32(bytes, pos);
        pos += 4;
        need(n, 'a string or binary');
        pos += n;
        continue;
      }
      case 0xc7: {
        need(1, 'a length');
        const n = bytes[pos]!;
        pos += 1;
        skipExt(n);
        continue;
      }
      case 0xc8: {
        need(2, 'a length');
        const n = u16(bytes, pos);
        pos += 2;
        skipExt(n);
        continue;
      }
      case 0xc9: {
        need(4, 'a length');
        const n = u32(bytes, pos);
        pos += 4;
        skipExt(n);
        continue;
      }
      case 0xca:
        need(4, 'a float');
        pos += 4;
        continue;
      case 0xcb:
        need(8, 'a float');
        pos += 8;
        continue;
      case 0xcc:
      case 0xd0:
        need(1, 'an integer');
        pos += 1;
        continue;
      case 0xcd:
      case 0xd1:
        need(2, 'an integer');
        pos += 2;
        continue;
      case 0xce:
      case 0xd2:
        need(4, 'an integer');
        pos += 4;
        continue;
      case 0xcf:
      case 0xd3:
        need(8, 'an integer');
        pos += 8;
        continue;
      case 0xd4:
        skipExt(1);
        continue;
      case 0xd5:
        skipExt(2);
        continue;
      case 0xd6:
        skipExt(4);
        continue;
      case 0xd7:
        skipExt(8);
        continue;
      case 0xd8:
        skipExt(16);
        continue;
      case 0xdc: {
        need(2, 'an array length');
        const n = u16(bytes, pos);
        pos += 2;
        open(n, 'an array');
        continue;
      }
      case 0xdd: {
        need(4, 'an array length');
        const n = u32(bytes, pos);
        pos += 4;
        open(n, 'an array');
        continue;
      }
      case 0xde: {
        need(2, 'a map length');
        const n = u16(bytes, pos);
        pos += 2;
        open(n * 2, 'a map');
        continue;
      }
      case 0xdf: {
        need(4, 'a map length');
        const n = u32(bytes, pos);
        pos += 4;
        open(n * 2, 'a map');
        continue;
      }
      default:
        throw new MalformedMessageError(`invalid msgpack byte 0x${b.toString(16)} at offset ${pos - 1}`);
    }
  }
  if (pos !== end) throw new MalformedMessageError(`${end - pos} bytes after the end of the value`);
}

/** Big-endian unsigned integers read from the bytes (no DataView per message). */
function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}
