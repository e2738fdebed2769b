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
  checker.check(bytes, limits, readsNext);
}

/**
 * The check's state, one object reused by every check (a check runs to its end or throws
 * before another starts): the check allocates nothing per message, where closures over its
 * locals would be made for each of the two messages of every call.
 */
class BoundsCheck {
  private bytes: Uint8Array = new Uint8Array(0);
  private end = 0;
  private pos = 0;
  private containers = 0;
  private maxContainers = 0;
  private maxDepth = 0;
  private readsNext: ReadonlySet<number> = READS_NEXT_VALUE;
  /** `pending[d]`: values still expected at depth d. Depth 0 expects the one top-level value. */
  private readonly pending: number[] = [];
  /**
   * Field counts of the records defined so far in this message, by id (-1: none); filled at the
   * first definition (envelopes have none).
   */
  private readonly records = new Int32Array(64);
  private hasRecords = false;

  check(bytes: Uint8Array, limits: DecodeLimits, readsNext: ReadonlySet<number>): void {
    const end = bytes.byteLength;
    if (end > limits.maxBytes) throw new MalformedMessageError(`message of ${end} bytes is above the limit of ${limits.maxBytes} bytes`);
    if (end === 0) throw new MalformedMessageError('empty message');
    this.bytes = bytes;
    this.end = end;
    this.pos = 0;
    this.containers = 0;
    this.maxContainers = Math.max(limits.minContainers, Math.floor(end * limits.containersPerByte));
    this.maxDepth = limits.maxDepth;
    this.readsNext = readsNext;
    this.hasRecords = false;
    const pending = this.pending;
    pending.length = 0;
    pending.push(1);
    try {
      this.walk();
    } finally {
      // Hold no message past its check.
      this.bytes = EMPTY;
    }
  }

  private container(): void {
    if (++this.containers > this.maxContainers) throw new MalformedMessageError(`more than ${this.maxContainers} arrays, maps and extensions in ${this.end} bytes`);
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new MalformedMessageError(`truncated message: ${what} needs ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`);
  }

  private open(count: number, what: string): void {
    this.container();
    // Every element takes at least one byte: a count the bytes left cannot hold is a lie.
    if (count > this.end - this.pos) throw new MalformedMessageError(`${what} claims ${count} elements with ${this.end - this.pos} bytes left`);
    if (count === 0) return;
    if (this.pending.length >= this.maxDepth) throw new MalformedMessageError(`nesting deeper than ${this.maxDepth}`);
    this.pending.push(count);
  }

  private skipExt(length: number): void {
    const bytes = this.bytes;
    this.need(1 + length, 'an extension');
    const type = bytes[this.pos]!;
    if (type === RECORD_DEFINITION) {
      if (length !== 1) throw new MalformedMessageError('two-byte msgpack record ids are not accepted');
      const id = bytes[this.pos + 1]! & 0x3f;
      this.pos += 2;
      // The keys come as an array; its length is the record's field count. The keys, then the
      // first record's values, take this value's place.
      this.need(1, 'record keys');
      const at = this.pos;
      const head = bytes[at]!;
      let fields: number;
      if (head >= 0x90 && head <= 0x9f) fields = head & 0x0f;
      else if (head === 0xdc) {
        this.need(3, 'record keys');
        fields = u16(bytes, at + 1);
      } else if (head === 0xdd) {
        this.need(5, 'record keys');
        fields = u32(bytes, at + 1);
      } else throw new MalformedMessageError(`a msgpack record definition must list its keys in an array (byte 0x${head.toString(16)} at offset ${at})`);
      if (fields > this.end - at) throw new MalformedMessageError(`a record claims ${fields} fields with ${this.end - at} bytes left`);
      if (!this.hasRecords) {
        this.records.fill(-1);
        this.hasRecords = true;
      }
      this.records[id] = fields;
      this.open(1 + fields, 'a record definition');
      return;
    }
    const refused = REFUSED_EXTENSIONS.get(type);
    if (refused) throw new MalformedMessageError(`msgpack ${refused} (extension 0x${type.toString(16)}) are not accepted`);
    this.pos += 1 + length;
    if (this.readsNext.has(type)) this.open(1, 'an extension');
    else this.container();
  }

  private walk(): void {
    const bytes = this.bytes;
    const end = this.end;
    const pending = this.pending;
    const records = this.records;
    while (pending.length > 0) {
      const top = pending.length - 1;
      if (pending[top] === 0) {
        pending.pop();
        continue;
      }
      pending[top]! -= 1;
      this.need(1, 'a value');
      const b = bytes[this.pos++]!;
      if (this.hasRecords && b >= 0x40 && b <= 0x7f && records[b & 0x3f]! >= 0) {
        this.open(records[b & 0x3f]!, 'a record');
        continue;
      }
      if (b <= 0x7f || b >= 0xe0) continue; // fixint
      if (b <= 0x8f) {
        this.open((b & 0x0f) * 2, 'a map');
        continue;
      }
      if (b <= 0x9f) {
        this.open(b & 0x0f, 'an array');
        continue;
      }
      if (b <= 0xbf) {
        const n = b & 0x1f;
        this.need(n, 'a string');
        this.pos += n;
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
          this.need(1, 'a length');
          const n = bytes[this.pos]!;
          this.pos += 1;
          this.need(n, 'a string or binary');
          this.pos += n;
          continue;
        }
        case 0xc5:
        case 0xda: {
          this.need(2, 'a length');
          const n = u16(bytes, this.pos);
          this.pos += 2;
          this.need(n, 'a string or binary');
          this.pos += n;
          continue;
        }
        case 0xc6:
        case 0xdb: {
          this.need(4, 'a length');
          const n = u32(bytes, this.pos);
          this.pos += 4;
          this.need(n, 'a string or binary');
          this.pos += n;
          continue;
        }
        case 0xc7: {
          this.need(1, 'a length');
          const n = bytes[this.pos]!;
          this.pos += 1;
          this.skipExt(n);
          continue;
        }
        case 0xc8: {
          this.need(2, 'a length');
          const n = u16(bytes, this.pos);
          this.pos += 2;
          this.skipExt(n);
          continue;
        }
        case 0xc9: {
          this.need(4, 'a length');
          const n = u32(bytes, this.pos);
          this.pos += 4;
          this.skipExt(n);
          continue;
        }
        case 0xca:
          this.need(4, 'a float');
          this.pos += 4;
          continue;
        case 0xcb:
          this.need(8, 'a float');
          this.pos += 8;
          continue;
        case 0xcc:
        case 0xd0:
          this.need(1, 'an integer');
          this.pos += 1;
          continue;
        case 0xcd:
        case 0xd1:
          this.need(2, 'an integer');
          this.pos += 2;
          continue;
        case 0xce:
        case 0xd2:
          this.need(4, 'an integer');
          this.pos += 4;
          continue;
        case 0xcf:
        case 0xd3:
          this.need(8, 'an integer');
          this.pos += 8;
          continue;
        case 0xd4:
          this.skipExt(1);
          continue;
        case 0xd5:
          this.skipExt(2);
          continue;
        case 0xd6:
          this.skipExt(4);
          continue;
        case 0xd7:
          this.skipExt(8);
          continue;
        case 0xd8:
          this.skipExt(16);
          continue;
        case 0xdc: {
          this.need(2, 'an array length');
          const n = u16(bytes, this.pos);
          this.pos += 2;
          this.open(n, 'an array');
          continue;
        }
        case 0xdd: {
          this.need(4, 'an array length');
          const n = u32(bytes, this.pos);
          this.pos += 4;
          this.open(n, 'an array');
          continue;
        }
        case 0xde: {
          this.need(2, 'a map length');
          const n = u16(bytes, this.pos);
          this.pos += 2;
          this.open(n * 2, 'a map');
          continue;
        }
        case 0xdf: {
          this.need(4, 'a map length');
          const n = u32(bytes, this.pos);
          this.pos += 4;
          this.open(n * 2, 'a map');
          continue;
        }
        default:
          throw new MalformedMessageError(`invalid msgpack byte 0x${b.toString(16)} at offset ${this.pos - 1}`);
      }
    }
    if (this.pos !== end) throw new MalformedMessageError(`${end - this.pos} bytes after the end of the value`);
  }
}

const EMPTY = new Uint8Array(0);
const checker = new BoundsCheck();

/** Big-endian unsigned integers read from the bytes (no DataView per message); the envelope reader's too. */
export function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

export function u32(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}
