/**
 * The value serializer: one configured msgpackr `Packr` with structured-clone semantics
 * (cycles, Map, Set, Date, RegExp, Error, BigInt, undefined, typed arrays), extended with
 * ObjectRefs and actor handles, and hardened for untrusted input (size limit on decode).
 */
import { Packr, addExtension } from 'msgpackr';

/** Largest payload accepted by `decode` (and by default by `encode`): 512 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

/** Extension types used on the wire. */
export const EXT_OBJECT_REF = 0x52;
export const EXT_ACTOR_HANDLE = 0x53;
export const EXT_REF_GENERATOR = 0x55;

/** How a process turns wire records back into live refs and handles. */
export interface SerializationHooks {
  encodeRef(ref: object): unknown;
  decodeRef(data: unknown): object;
  encodeHandle(handle: object): unknown;
  decodeHandle(data: unknown): object;
}

let hooks: SerializationHooks | undefined;

/** Install the hooks of the runtime of this process (one per process). */
export function setSerializationHooks(h: SerializationHooks | undefined): void {
  hooks = h;
}

function requireHooks(): SerializationHooks {
  if (!hooks) throw new Error('raybus: ObjectRefs and actor handles can only be (de)serialized while raybus is running');
  return hooks;
}

let registered = false;
/** Register the ObjectRef / ActorHandle extensions for the given classes (once per process). */
export function registerRefClasses(
  refClass: new (...a: never[]) => object,
  handleClass: new (...a: never[]) => object,
  generatorClass: new (...a: never[]) => object,
): void {
  if (registered) return;
  registered = true;
  // A finished 'dynamic' generator travels as the list of its refs.
  addExtension({
    Class: generatorClass,
    type: EXT_REF_GENERATOR,
    write: (g: object) => {
      const refs = (g as { refs?: unknown[] }).refs;
      if (!refs) throw new TypeError('raybus: a streaming ObjectRefGenerator cannot be passed to another task or actor');
      return refs;
    },
    read: (refs: unknown[]) => new (generatorClass as unknown as new (init: { refs: unknown[] }) => object)({ refs }),
  });
  addExtension({
    Class: refClass,
    type: EXT_OBJECT_REF,
    write: (ref: object) => requireHooks().encodeRef(ref),
    read: (data: unknown) => requireHooks().decodeRef(data),
  });
  addExtension({
    Class: handleClass,
    type: EXT_ACTOR_HANDLE,
    write: (h: object) => requireHooks().encodeHandle(h),
    read: (data: unknown) => requireHooks().decodeHandle(data),
  });
}

const packr = new Packr({ structuredClone: true, useRecords: true });
/** Wire envelopes (plain data, no cycles): faster settings. */
const envelopePackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** Encode a user value. Call `assertSerializable` first to get path-precise errors. */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decode a user value. */
export function decodeValue(bytes: Uint8Array): unknown {
  if (bytes.byteLength > DEFAULT_MAX_MESSAGE_BYTES) throw new RangeError(`raybus: payload of ${bytes.byteLength} bytes exceeds the limit`);
  return packr.unpack(bytes);
}

/** Encode an internal envelope (plain objects, strings, numbers, Uint8Array). */
export function encodeEnvelope(value: unknown): Uint8Array {
  return envelopePackr.pack(value);
}

/** Decode an internal envelope; throws on malformed input (callers reject the message). */
export function decodeEnvelope(bytes: Uint8Array): unknown {
  if (bytes.byteLength > DEFAULT_MAX_MESSAGE_BYTES) throw new RangeError(`raybus: payload of ${bytes.byteLength} bytes exceeds the limit`);
  return envelopePackr.unpack(bytes);
}
