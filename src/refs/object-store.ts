/**
 * The per-process object table: values this process owns (task results, puts) and values
 * it borrowed and fetched. Values are kept encoded; `get` decodes a fresh copy each time
 * (copy semantics, as Ray's object store). An entry is freed once no ObjectRef to it is
 * reachable in this process and no borrower holds it.
 */
import type { ObjectId, ReplyQueue } from '../protocol/ids';
import type { Observable, ReplaySubject } from 'rxjs';
import { rx } from '../util/rx';
import type { WireOutcome } from '../protocol/wire';
import { TurnBudget } from '../util/turn-budget';

/**
 * Collected ObjectRefs counted down in one event-loop turn; the rest of a large collection
 * (a driver dropping a million refs) is counted in the turns after (~10 ms each).
 */
const DROPS_PER_TURN = 8192;

interface Entry {
  outcome?: WireOutcome;
  subject?: ReplaySubject<WireOutcome>;
  /** Callbacks waiting for the outcome (`onOutcome`). */
  waiters?: Array<(out: WireOutcome) => void>;
  /** Live ObjectRef instances in this process. */
  local: number;
  /** Tokens handed to other processes (owner) / received from the owner (borrower). */
  borrowers: number;
  owned: boolean;
  /** Pending uses that must keep the entry (e.g. a submission waiting on it). */
  pins: number;
  fetchRequested: boolean;
  /** Refs inside this entry's value, pinned while it lives. */
  contained?: ObjectId[];
}

/** Callbacks the store uses to talk to the rest of the runtime. */
export interface ObjectStoreEvents {
  /** A borrowed object lost its last local ref: return `n` tokens to its owner. */
  releaseBorrow(id: ObjectId, owner: ReplyQueue, n: number): void;
  /** An entry this process owns was freed: nothing anywhere holds it any more. */
  ownedFreed?(id: ObjectId): void;
}

const noop = (): void => undefined;

/** One entry as the state API lists it. */
export interface ObjectEntryView {
  readonly id: ObjectId;
  readonly owned: boolean;
  /** The owner's reply queue (borrowed entries; owned ones are this process's). */
  readonly owner?: ReplyQueue;
  readonly local: number;
  readonly borrowers: number;
  readonly pins: number;
  /** Encoded size in bytes (0 until the value exists, and for errors). */
  readonly size: number;
  readonly status: 'PENDING' | 'FINISHED' | 'FAILED';
}

export class ObjectStore {
  private readonly entries = new Map<ObjectId, Entry>();
  private readonly owners = new Map<ObjectId, ReplyQueue>();
  private readonly registry = new FinalizationRegistry<ObjectId>((id) => this.collected(id));
  private readonly drops = new TurnBudget(DROPS_PER_TURN);
  /** Collected refs not counted down yet (past a turn's budget), from `collectedNext` on. */
  private collectedLater: ObjectId[] = [];
  private collectedNext = 0;

  constructor(
    private readonly self: ReplyQueue,
    private readonly events: ObjectStoreEvents,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Count a new ObjectRef instance for `id` (call for every instance created). With
   * `untrackable`, `untrack` may end the count before the instance is collected.
   */
  track(ref: object, id: ObjectId, owner: ReplyQueue, untrackable = false): void {
    const e = this.entry(id, owner === this.self);
    e.local += 1;
    if (owner !== this.self) this.owners.set(id, owner);
    if (untrackable) this.registry.register(ref, id, ref);
    else this.registry.register(ref, id);
  }

  /**
   * End the count of an instance tracked `untrackable`, as if it was collected (a handle
   * that turned out to target another actor; tests that cannot wait for a collection).
   */
  untrack(ref: object, id: ObjectId): void {
    if (this.registry.unregister(ref)) this.dropLocal(id);
  }

  /** Owner: a ref to `id` was serialized towards another process. */
  addBorrower(id: ObjectId, n = 1): void {
    const e = this.entries.get(id);
    if (e) e.borrowers += n;
  }

  /**
   * A message carrying a ref to `id` arrived here. The token it carried either comes home
   * (we own `id`) or makes us a borrower. The ref is pinned until `unpin` (by whatever holds
   * the encoded message: a stored value, a running task's arguments).
   */
  received(id: ObjectId, owner: ReplyQueue): void {
    const owned = owner === this.self;
    const e = this.entry(id, owned);
    if (owned) e.borrowers -= 1;
    else {
      e.borrowers += 1;
      this.owners.set(id, owner);
    }
    e.pins += 1;
  }

  /** True if this process owns `id` (it created it). */
  owns(ref: { owner: ReplyQueue }): boolean {
    return ref.owner === this.self;
  }

  /** Owner: a borrower returned tokens. */
  removeBorrower(id: ObjectId, n: number): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.borrowers -= n;
    this.maybeFree(id, e);
  }

  pin(id: ObjectId): void {
    const e = this.entries.get(id);
    if (e) e.pins += 1;
  }

  unpin(id: ObjectId): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.pins -= 1;
    this.maybeFree(id, e);
  }

  /**
   * Store the outcome of `id` (ignored when nobody holds a ref any more). `contained` lists
   * the refs inside the value, already `received`: they stay pinned while this entry lives.
   */
  fulfil(id: ObjectId, outcome: WireOutcome, contained?: ObjectId[]): boolean {
    const e = this.entries.get(id);
    if (!e || e.outcome) {
      if (contained) for (const c of contained) this.unpin(c);
      return false;
    }
    e.outcome = outcome;
    if (contained?.length) e.contained = contained;
    e.subject?.next(outcome);
    e.subject?.complete();
    const waiters = e.waiters;
    if (waiters) {
      e.waiters = undefined;
      for (const cb of waiters) cb(outcome);
    }
    return true;
  }

  /** Call `cb` once with the outcome of `id` (now if it is here); returns a cancel function. */
  onOutcome(id: ObjectId, cb: (out: WireOutcome) => void): () => void {
    const e = this.entries.get(id) ?? this.entry(id, false);
    if (e.outcome) {
      cb(e.outcome);
      return noop;
    }
    (e.waiters ??= []).push(cb);
    return () => {
      const i = e.waiters?.indexOf(cb) ?? -1;
      if (i >= 0) e.waiters!.splice(i, 1);
    };
  }

  has(id: ObjectId): boolean {
    return this.entries.has(id);
  }

  outcomeOf(id: ObjectId): WireOutcome | undefined {
    return this.entries.get(id)?.outcome;
  }

  isReady(id: ObjectId): boolean {
    return this.entries.get(id)?.outcome !== undefined;
  }

  /** Stream of the outcome: emits once and completes. */
  outcome$(id: ObjectId): Observable<WireOutcome> {
    const e = this.entries.get(id) ?? this.entry(id, false);
    if (!e.subject) {
      e.subject = new (rx().ReplaySubject)<WireOutcome>(1);
      if (e.outcome) {
        e.subject.next(e.outcome);
        e.subject.complete();
      }
    }
    return e.subject;
  }

  /** Every entry, for the state API (read when a query arrives). */
  *entriesView(): IterableIterator<ObjectEntryView> {
    for (const [id, e] of this.entries) {
      const out = e.outcome;
      yield {
        id,
        owned: e.owned,
        ...(e.owned ? {} : { owner: this.owners.get(id) }),
        local: e.local,
        borrowers: e.borrowers,
        pins: e.pins,
        size: out && 'd' in out ? out.d.byteLength : 0,
        status: !out ? 'PENDING' : 'e' in out ? 'FAILED' : 'FINISHED',
      };
    }
  }

  /** Borrower: mark that a fetch was sent, so it is sent once. Returns true the first time. */
  markFetch(id: ObjectId): boolean {
    const e = this.entries.get(id);
    if (!e || e.fetchRequested || e.owned) return false;
    e.fetchRequested = true;
    return true;
  }

  /** Fail every pending entry (shutdown, owner death). */
  failPending(make: (id: ObjectId) => WireOutcome): void {
    for (const [id, e] of this.entries) if (!e.outcome) this.fulfil(id, make(id));
  }

  /** Borrowed ids whose owner is `owner` and which are still pending. */
  pendingFrom(owner: ReplyQueue): ObjectId[] {
    const out: ObjectId[] = [];
    for (const [id, o] of this.owners) if (o === owner && !this.entries.get(id)?.outcome) out.push(id);
    return out;
  }

  private entry(id: ObjectId, owned: boolean): Entry {
    let e = this.entries.get(id);
    if (!e) {
      // Every field in place from the start: an outcome added later would go to a separate
      // property store, one more object for each result waiting to be read.
      e = { outcome: undefined, subject: undefined, waiters: undefined, local: 0, borrowers: 0, owned, pins: 0, fetchRequested: false, contained: undefined };
      this.entries.set(id, e);
    }
    return e;
  }

  /** The collector found an ObjectRef of `id` unreachable. */
  private collected(id: ObjectId): void {
    if (this.collectedLater.length === 0 && this.drops.take(1)) this.dropLocal(id);
    else if (this.collectedLater.push(id) === 1) setImmediate(this.dropCollected);
  }

  /** Count down the refs collected past a turn's budget, a turn's budget at a time. */
  private readonly dropCollected = (): void => {
    const ids = this.collectedLater;
    while (this.collectedNext < ids.length && this.drops.take(1)) this.dropLocal(ids[this.collectedNext++]!);
    if (this.collectedNext < ids.length) {
      setImmediate(this.dropCollected);
      return;
    }
    this.collectedLater = [];
    this.collectedNext = 0;
  };

  private dropLocal(id: ObjectId): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.local -= 1;
    this.maybeFree(id, e);
  }

  private maybeFree(id: ObjectId, e: Entry): void {
    if (e.local > 0 || e.pins > 0) return;
    if (e.owned) {
      if (e.borrowers > 0) return;
      this.entries.delete(id);
      this.releaseContained(e);
      this.events.ownedFreed?.(id);
      return;
    }
    // Borrower: give all tokens back to the owner at once.
    this.entries.delete(id);
    const owner = this.owners.get(id);
    this.owners.delete(id);
    if (owner && e.borrowers > 0) this.events.releaseBorrow(id, owner, e.borrowers);
    this.releaseContained(e);
  }

  private releaseContained(e: Entry): void {
    if (!e.contained) return;
    const c = e.contained;
    e.contained = undefined;
    for (const id of c) this.unpin(id);
  }
}
