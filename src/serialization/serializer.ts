/**
 * The serializer: raybus's own msgpackr (serialization/msgpackr-instance.ts) with two
 * configurations — user values with structured-clone semantics (cycles, Map, Set, Date,
 * RegExp, Error, BigInt, undefined, typed arrays), extended by the layers that own ObjectRefs,
 * generators, actor handles and placement groups (`registerExtension`); and wire envelopes (plain data, faster settings) — and one
 * set of limits that every decode is held to before msgpackr sees the bytes
 * (msgpack-bounds.ts), so a hostile message is refused instead of allocated.
 */
import { writeEnvelope } from './envelope-writer';
import { afterPack, privateMsgpackr } from './msgpackr-instance';
import { NOT_PLAIN, readEnvelope } from './envelope-reader';
import { checkMsgpack, type DecodeLimits } from './msgpack-bounds';

export { MalformedMessageError, type DecodeLimits } from './msgpack-bounds';

/** Largest user value accepted by default: 2 GiB − 1 (values travel as blobs, of any size up to that). */
const DEFAULT_MAX_VALUE_BYTES = 2 ** 31 - 1;
/** Largest envelope accepted until the runtime sets its transport's limit: 512 MiB. */
const DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

/** Extension types raybus writes (all introduce the value that follows them). */
export const EXT_OBJECT_REF = 0x52;
export const EXT_ACTOR_HANDLE = 0x53;
export const EXT_PLACEMENT_GROUP = 0x54;
export const EXT_REF_GENERATOR = 0x55;

/** The limits of a serializer; every field has a default. */
export interface SerializerLimits {
  /** Largest user value (encoded bytes). */
  readonly maxValueBytes: number;
  /** Largest envelope: the transport's largest message. */
  readonly maxEnvelopeBytes: number;
  /** Deepest nesting of arrays, maps and extensions in a value or envelope. */
  readonly maxDepth: number;
  /** Arrays, maps and extensions allowed per byte of message (beyond `minContainers`). */
  readonly containersPerByte: number;
  /** Arrays, maps and extensions always allowed. */
  readonly minContainers: number;
}

const DEFAULT_LIMITS: SerializerLimits = {
  maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
  maxEnvelopeBytes: DEFAULT_MAX_MESSAGE_BYTES,
  maxDepth: 512,
  containersPerByte: 0.25,
  minContainers: 65_536,
};

/** A class that travels as itself: written as `write(instance)`, rebuilt by `read`. */
export interface SerializerExtension<T extends object> {
  readonly type: number;
  readonly Class: abstract new (...args: never[]) => T;
  write(instance: T): unknown;
  read(data: unknown): T;
  /**
   * Which instances travel as themselves (default: every one). The others are refused when a
   * value is checked before encoding, like any class instance (value-check.ts).
   */
  accepts?(instance: T): boolean;
}

/** Encodes and decodes values and envelopes within configured limits. */
export class Serializer {
  private limits: SerializerLimits;
  private valueLimits!: DecodeLimits;
  private envelopeLimits!: DecodeLimits;
  private readonly values: InstanceType<ReturnType<typeof privateMsgpackr>['Packr']>;
  private readonly envelopes: InstanceType<ReturnType<typeof privateMsgpackr>['Packr']>;
  /** Extension types whose decoder reads the following value (msgpackr's, then ours). */
  private readonly readsNext = new Set([0x65, 0x69, 0x73, 0x78]);
  private readonly registered = new Map<number, SerializerExtension<object>>();
  /** The registered extensions, as an array for `travelsAsItself` (checked per encoded object). */
  private extensions: Array<SerializerExtension<object>> = [];
  /** An extension (a ref, a handle) was written by the encode in progress. */
  private wroteExtension = false;

  constructor(limits: Partial<SerializerLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.deriveLimits();
    const { Packr } = privateMsgpackr();
    // Records tell plain objects from Maps; ids stay one byte (at most 64 own structures).
    this.values = new Packr({ structuredClone: true, useRecords: true, maxOwnStructures: 64, maxSharedStructures: 0 });
    this.envelopes = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
  }

  /** The limits in force. */
  get currentLimits(): SerializerLimits {
    return this.limits;
  }

  /** Change some limits (the runtime sets the envelope limit from its transport). */
  configure(limits: Partial<SerializerLimits>): void {
    this.limits = { ...this.limits, ...limits };
    this.deriveLimits();
  }

  /**
   * Make instances of `ext.Class` travel as themselves. Registered on raybus's own msgpackr
   * instance, never on the process-wide one. Registering a type again replaces its handlers.
   */
  registerExtension<T extends object>(ext: SerializerExtension<T>): void {
    const known = this.registered.get(ext.type);
    if (known) {
      // Same class: swap the handlers in place (msgpackr keeps the first registration's object).
      Object.assign(known, { write: ext.write, read: ext.read, accepts: ext.accepts });
      return;
    }
    const entry = { type: ext.type, Class: ext.Class, write: ext.write, read: ext.read, accepts: ext.accepts } as SerializerExtension<object>;
    this.registered.set(ext.type, entry);
    this.extensions = [...this.registered.values()];
    this.readsNext.add(ext.type);
    privateMsgpackr().addExtension({
      type: ext.type,
      Class: ext.Class as unknown as new () => object,
      write: (v: object) => {
        this.wroteExtension = true;
        return entry.write(v);
      },
      read: (data: unknown) => entry.read(data),
    });
  }

  /**
   * True when `v` travels as itself: an instance of a registered extension's class that the
   * extension accepts (value-check.ts takes these as they are instead of refusing them).
   */
  travelsAsItself(v: object): boolean {
    const exts = this.extensions;
    for (let i = 0; i < exts.length; i++) {
      const ext = exts[i]!;
      if (v instanceof ext.Class) return ext.accepts === undefined || ext.accepts(v);
    }
    return false;
  }

  /** Encode a user value (check it with value-check.ts first for path-precise errors). */
  encodeValue(value: unknown): Uint8Array {
    this.wroteExtension = false;
    const bytes = afterPack(this.values, this.values.pack(value));
    // msgpackr's structured-clone map keeps every object of the last value reachable until
    // the next encode: a ref or an actor handle inside it would stay counted (its object or
    // actor alive) after the caller dropped it. An empty encode lets go of it.
    if (this.wroteExtension) this.values.pack(null);
    return bytes;
  }

  /** Decode a user value; throws MalformedMessageError for bytes outside the limits. */
  decodeValue(bytes: Uint8Array): unknown {
    checkMsgpack(bytes, this.valueLimits, this.readsNext);
    return this.values.unpack(bytes);
  }

  /**
   * Encode an envelope (plain objects, strings, numbers, Uint8Array). `gatherLarge`: for a
   * transport that writes it to a pipe, large byte arrays are left beside it, not copied in
   * (envelope-writer.ts, gathered-bytes.ts).
   */
  encodeEnvelope(value: unknown, gatherLarge = false): Uint8Array {
    // Plain data (every message raybus makes) by the envelope writer; anything else by msgpackr.
    return writeEnvelope(value, gatherLarge) ?? afterPack(this.envelopes, this.envelopes.pack(value));
  }

  /** Decode an envelope; throws on malformed input (callers reject the message). */
  decodeEnvelope(bytes: Uint8Array): unknown {
    // Plain data (every message raybus makes) by the envelope reader, checked as it reads;
    // anything else, and anything it does not accept, by the bounds check and msgpackr.
    const plain = readEnvelope(bytes, this.envelopeLimits);
    if (plain !== NOT_PLAIN) return plain;
    checkMsgpack(bytes, this.envelopeLimits, this.readsNext);
    return this.envelopes.unpack(bytes);
  }

  private deriveLimits(): void {
    const { maxDepth, containersPerByte, minContainers } = this.limits;
    this.valueLimits = { maxBytes: this.limits.maxValueBytes, maxDepth, containersPerByte, minContainers };
    this.envelopeLimits = { maxBytes: this.limits.maxEnvelopeBytes, maxDepth, containersPerByte, minContainers };
  }
}

/** The serializer of this copy of raybus (the runtime configures its limits). */
export const serializer = new Serializer();

/** Encode a user value with the process's serializer. */
export function encodeValue(value: unknown): Uint8Array {
  return serializer.encodeValue(value);
}

/** Decode a user value with the process's serializer. */
export function decodeValue(bytes: Uint8Array): unknown {
  return serializer.decodeValue(bytes);
}

/** Encode a wire envelope with the process's serializer (`gatherLarge`: see its method). */
export function encodeEnvelope(value: unknown, gatherLarge = false): Uint8Array {
  return serializer.encodeEnvelope(value, gatherLarge);
}

/** Decode a wire envelope with the process's serializer; throws on malformed input. */
export function decodeEnvelope(bytes: Uint8Array): unknown {
  return serializer.decodeEnvelope(bytes);
}
