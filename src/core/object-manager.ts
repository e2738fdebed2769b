/**
 * The objects of one process (Ray's reference counter and memory store, owner side and
 * borrower side): encodes values leaving the process and counts the refs inside them as
 * borrowed, takes the refs inside values that arrive, makes refs it owns, answers borrowers'
 * `get-object` requests, fetches what it borrows, and fails what it borrowed from an owner
 * that died. It registers the ObjectRef codec for its process while it runs.
 */
import type { Observable } from 'rxjs';
import { rx } from '../util/rx';
import { ObjectRef, clearRefResolver, isObjectRef, setRefResolver } from '../refs/object-ref';
import { ObjectStore } from '../refs/object-store';
import { EXT_OBJECT_REF, decodeValue, encodeValue, serializer, type SerializerExtension } from '../serialization/serializer';
import { scanValue } from '../serialization/value-check';
import { decodeError, encodeError } from '../serialization/error-codec';
import { OwnerDiedError, RaySystemError } from '../errors/ray-errors';
import type { IdSource, ObjectId, ReplyQueue, TaskId } from '../protocol/ids';
import type { WireArg, WireOutcome, WireRef } from '../protocol/wire';
import type { ReplyMsg } from '../protocol/messages/reply';
import type { SendErrorHandler } from './messenger';
import { addBounded } from '../util/bounded-set';

/** How the object manager reaches other processes (their reply queues only). */
export interface ObjectOutbox {
  send(queue: ReplyQueue, msg: ReplyMsg, taskId?: TaskId, onError?: SendErrorHandler<ReplyMsg>): void;
}

/** Which values travel as themselves: the classes registered with the serializer. */
const travelsAsItself = (v: object): boolean => serializer.travelsAsItself(v);

/** Bounded memory of owners known to be gone. */
const MAX_DEAD_OWNERS = 10_000;

/**
 * The counted reference an actor handle carries (`[actorRefKey(actor), owner]`), or undefined
 * for a value that is not a counted handle (a detached actor's, one from `getActor`). Set by
 * the API layer, which owns handles (api/actor-handle.ts).
 */
let handleRefOf: ((v: object) => WireRef | undefined) | undefined;

/** @internal Tell the core how to read the counted reference of an actor handle. */
export function setActorHandleRefs(fn: (v: object) => WireRef | undefined): void {
  handleRefOf = fn;
}

/** The objects of one process: see the file comment. */
export class ObjectManager {
  readonly store: ObjectStore;
  /** Owners known to be gone (bounded): their objects are lost. */
  private readonly deadOwners = new Set<ReplyQueue>();
  private readonly refCodec: SerializerExtension<ObjectRef<unknown>>;

  constructor(
    readonly address: ReplyQueue,
    private readonly outbox: ObjectOutbox,
    private readonly ids: IdSource,
    /** An entry this process owns was freed (an actor's: none of its handles is left). */
    ownedFreed?: (id: ObjectId) => void,
  ) {
    this.store = new ObjectStore(address, {
      releaseBorrow: (id, owner, n) => this.outbox.send(owner, { t: 'borrow', id, n: -n }),
      ...(ownedFreed ? { ownedFreed } : {}),
    });
    this.refCodec = {
      Class: ObjectRef,
      type: EXT_OBJECT_REF,
      write: (ref) => [ref.id, ref.owner],
      read: (data) => this.decodeRef(data),
    };
  }

  /** Make this manager the one that rebuilds received refs and resolves `asObservable`. */
  install(): void {
    serializer.registerExtension(this.refCodec);
    setRefResolver(this);
  }

  /** Stop resolving refs (shutdown), unless another runtime of this process took over. */
  uninstall(): void {
    clearRefResolver(this);
  }

  private decodeRef(data: unknown): ObjectRef<unknown> {
    if (!Array.isArray(data) || typeof data[0] !== 'string' || typeof data[1] !== 'string') throw new TypeError('raybus: malformed ObjectRef');
    const [id, owner] = data as WireRef;
    const ref = new ObjectRef(id, owner);
    this.store.track(ref, id, owner);
    return ref;
  }

  // ---------------------------------------------------------------- values leaving

  /** Encode a value for another process: checks it, counts the refs inside it as borrowed. */
  encodeArg(value: unknown, path: string): WireArg {
    const scan = scanValue(value, path, isObjectRef, travelsAsItself);
    const d = encodeValue(value);
    // Values of any size travel (as blobs where a message is smaller): only what no process
    // could decode is refused here.
    const limit = serializer.currentLimits.maxValueBytes;
    if (d.byteLength > limit) {
      throw new RangeError(`raybus: ${path} is ${d.byteLength} bytes encoded, above the largest value raybus decodes (${limit} bytes); split it`);
    }
    let r: WireRef[] | undefined = scan.refs.length === 0 ? undefined : (scan.refs as ObjectRef<unknown>[]).map((ref): WireRef => [ref.id, ref.owner]);
    // Actor handles travel counted like refs: the actor lives while a handle to it does.
    if (scan.handles.length > 0 && handleRefOf) {
      for (const h of scan.handles) {
        const counted = handleRefOf(h);
        if (counted) (r ??= []).push(counted);
      }
    }
    if (!r) return { d };
    this.noteSent(r);
    return { d, r };
  }

  /** Bytes carrying refs are leaving this process: one borrow token per ref. */
  noteSent(refs: WireRef[] | undefined): void {
    if (!refs) return;
    for (const [id, owner] of refs) {
      if (owner === this.address) this.store.addBorrower(id, 1);
      else this.outbox.send(owner, { t: 'borrow', id, n: 1 });
    }
  }

  // ---------------------------------------------------------------- values arriving

  /** Take the refs inside received argument bytes; returns the ids to unpin afterwards. */
  receiveArgs(args: WireArg[]): ObjectId[] {
    const pinned: ObjectId[] = [];
    for (const a of args) if (a.r) for (const [id, owner] of a.r) {
      this.store.received(id, owner);
      pinned.push(id);
    }
    return pinned;
  }

  /** Store an outcome that arrived from another process, taking its contained refs. */
  receiveOutcome(id: ObjectId, out: WireOutcome): void {
    if ('d' in out && out.r?.length) {
      for (const [rid, owner] of out.r) this.store.received(rid, owner);
      this.store.fulfil(id, out, out.r.map(([rid]) => rid));
    } else {
      this.store.fulfil(id, out);
    }
  }

  /** An outcome nobody will store arrived: its contained refs come and go at once. */
  releaseOutcomeRefs(out: WireOutcome): void {
    if ('d' in out && out.r) for (const [rid, owner] of out.r) {
      this.store.received(rid, owner);
      this.store.unpin(rid);
    }
  }

  /** Store the outcome of `id` (see ObjectStore.fulfil). */
  fulfil(id: ObjectId, out: WireOutcome): void {
    this.store.fulfil(id, out);
  }

  /** Create a ref owned by this process (a task return or a put). */
  ownedRef<T>(id: ObjectId): ObjectRef<T> {
    const ref = new ObjectRef<T>(id, this.address);
    this.store.track(ref, id, this.address);
    return ref;
  }

  /** `ray.put`: store a value owned by this process. */
  put<T>(value: T): ObjectRef<T> {
    const arg = this.encodeArg(value, 'value');
    const id = this.ids.next<ObjectId>();
    const ref = this.ownedRef<T>(id);
    if (arg.r) for (const [rid, owner] of arg.r) this.store.received(rid, owner);
    this.store.fulfil(id, arg, arg.r?.map(([rid]) => rid));
    return ref;
  }

  // ---------------------------------------------------------------- owners and borrowers

  /** Owner: a borrower asks for `id`; answered once it is ready (pinned meanwhile). */
  answerGetObject(id: ObjectId, reply: ReplyQueue): void {
    if (!this.store.has(id)) {
      this.outbox.send(reply, { t: 'object', id, out: { e: encodeError(new RaySystemError(`object ${id} was freed or never existed on its owner`)) } });
      return;
    }
    this.store.pin(id);
    this.store.onOutcome(id, (out) => {
      this.noteSent('d' in out ? out.r : undefined);
      this.outbox.send(reply, { t: 'object', id, out });
      this.store.unpin(id);
    });
  }

  /** Owner: a borrower took (`n` > 0) or returned (`n` < 0) borrow tokens. */
  onBorrow(id: ObjectId, n: number): void {
    if (n > 0) this.store.addBorrower(id, n);
    else this.store.removeBorrower(id, -n);
  }

  /** A process that owned objects is gone: fail what we borrowed from it and still wait for. */
  onOwnerDied(owner: ReplyQueue): void {
    if (owner === this.address) return;
    addBounded(this.deadOwners, owner, MAX_DEAD_OWNERS);
    for (const id of this.store.pendingFrom(owner)) this.store.fulfil(id, ownerDied(id, owner));
  }

  /** Outcome stream of a ref, fetching it from its owner if borrowed. */
  outcome$(ref: ObjectRef<unknown>): Observable<WireOutcome> {
    this.fetchIfBorrowed(ref);
    return this.store.outcome$(ref.id);
  }

  /**
   * Call `cb` once with the outcome of `ref` (at once if it is here), fetching it from its
   * owner if borrowed; returns a function that cancels the wait. Cheaper than `outcome$`:
   * no subject per object.
   */
  onOutcome(ref: ObjectRef<unknown>, cb: (out: WireOutcome) => void): () => void {
    this.fetchIfBorrowed(ref);
    return this.store.onOutcome(ref.id, cb);
  }

  /** The outcome of `id` if it is here. */
  outcomeOf(id: ObjectId): WireOutcome | undefined {
    return this.store.outcomeOf(id);
  }

  isReady(id: ObjectId): boolean {
    return this.store.isReady(id);
  }

  pin(id: ObjectId): void {
    this.store.pin(id);
  }

  unpin(id: ObjectId): void {
    this.store.unpin(id);
  }

  /** A borrowed ref that is not here yet: ask its owner once (or fail it if the owner died). */
  private fetchIfBorrowed(ref: ObjectRef<unknown>): void {
    if (ref.owner === this.address || this.store.isReady(ref.id)) return;
    if (this.deadOwners.has(ref.owner)) this.store.fulfil(ref.id, ownerDied(ref.id, ref.owner));
    else if (this.store.markFetch(ref.id)) this.outbox.send(ref.owner, { t: 'get-object', id: ref.id, reply: this.address }, undefined, this.fetchFailed);
  }

  /** The owner's queue is gone: the owner died, and its objects with it (Ray: OwnerDiedError). */
  private readonly fetchFailed = (_err: Error, msg: ReplyMsg, queue: string): void => {
    if (msg.t === 'get-object') this.store.fulfil(msg.id, ownerDied(msg.id, queue));
  };

  /** Decode an outcome into a value, or throw its error. */
  decodeOutcome(out: WireOutcome): unknown {
    if ('e' in out) throw decodeError(out.e);
    return decodeValue(out.d);
  }

  /** The value of a ref as an Observable (ObjectRef.asObservable). */
  observe(ref: ObjectRef<unknown>): Observable<unknown> {
    return this.outcome$(ref).pipe(rx().map((out) => this.decodeOutcome(out)));
  }
}

function ownerDied(id: ObjectId, owner: string): WireOutcome {
  return { e: encodeError(new OwnerDiedError(`The object ${id} is lost: its owner (${owner}) has died.`)) };
}
