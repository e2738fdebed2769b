/**
 * A message whose large byte arrays were not copied into it (docs/ARCHITECTURE.md, "Values
 * of many megabytes on a pipe"). The envelope writer, asked to gather, writes the header of each byte
 * array of GATHER_BYTES or more and leaves its room in the message unwritten (memory that is
 * allocated but never touched costs neither time nor RSS); the message keeps the arrays
 * beside it. A pipe writes the message as its parts, the arrays themselves among them
 * (`partsInto`), and an AuthTransport seals it from them (`Transport.takesGathered`); anything
 * else that reads the message as bytes copies them in first (`joined`).
 *
 * Only raybus's own bytes are gathered — a value's serialized bytes, an object store entry —
 * never a user's array, which may change after the call that took it. (A task's `_metadata`,
 * the one user object a message carries as it is, has its byte arrays copied when the option
 * is set: api/options/value-checks.ts.)
 */

/**
 * From this length a byte array in a message being gathered is not copied into it; the frames
 * writer (ipc-protocol.ts) writes a body of this length or more as a part of its own.
 */
export const GATHER_BYTES = 1 << 16;

/** Where an array goes in the message (its offset from the message's start), and the array. */
export interface Hole {
  readonly at: number;
  readonly bytes: Uint8Array;
}

export class GatheredBytes extends Uint8Array {
  /** The arrays not yet copied in, in order; undefined once they are. */
  private holes: readonly Hole[] | undefined;

  /** The message written in `bytes`, with `holes` left unwritten and their arrays beside it. */
  static over(bytes: Uint8Array, holes: readonly Hole[]): GatheredBytes {
    const g = new GatheredBytes(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
    g.holes = holes;
    return g;
  }

  /** True while the arrays are only beside the message, not in it. */
  get gathered(): boolean {
    return this.holes !== undefined;
  }

  /**
   * The arrays beside the message, in order, handed to a reader that copies in what it reads
   * as bytes (ipc-protocol.ts): the message is its reader's from then on, and has no holes.
   */
  takeHoles(): readonly Hole[] | undefined {
    const holes = this.holes;
    this.holes = undefined;
    return holes;
  }

  /** Push the message's parts, in order, onto `parts`: what was written, and the arrays. */
  partsInto(parts: Uint8Array[]): void {
    const holes = this.holes;
    if (!holes) {
      parts.push(new Uint8Array(this.buffer, this.byteOffset, this.byteLength));
      return;
    }
    let at = 0;
    for (const h of holes) {
      if (h.at > at) parts.push(new Uint8Array(this.buffer, this.byteOffset + at, h.at - at));
      parts.push(h.bytes);
      at = h.at + h.bytes.byteLength;
    }
    if (this.byteLength > at) parts.push(new Uint8Array(this.buffer, this.byteOffset + at, this.byteLength - at));
  }

  /** Copy the arrays in (once): the message is then whole. */
  copyIn(): void {
    const holes = this.holes;
    if (!holes) return;
    for (const h of holes) this.set(h.bytes, h.at);
    this.holes = undefined;
  }

  /** Its views (`subarray`, `slice`) are plain byte arrays: only the message itself has holes. */
  static get [Symbol.species](): Uint8ArrayConstructor {
    return Uint8Array;
  }
}

/** `body` as bytes to read: a gathered message gets its arrays copied in. */
export function joined(body: Uint8Array): Uint8Array {
  if (body instanceof GatheredBytes) body.copyIn();
  return body;
}
