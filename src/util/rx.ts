/**
 * The few rxjs values raybus constructs, loaded on first use and each from its own module:
 * rxjs's index loads all of its 200-odd modules, and a worker process that never hands out an
 * Observable need not load any. Types still come from 'rxjs' itself, so that declarations
 * name only its public entry.
 */
import type * as Rx from 'rxjs';

interface RxParts {
  readonly BehaviorSubject: typeof Rx.BehaviorSubject;
  readonly ReplaySubject: typeof Rx.ReplaySubject;
  readonly defer: typeof Rx.defer;
  readonly from: typeof Rx.from;
  readonly concatMap: typeof Rx.concatMap;
  readonly map: typeof Rx.map;
}

let parts: RxParts | undefined;

/** The rxjs values raybus uses (loaded by the first call). */
export function rx(): RxParts {
  return (parts ??= {
    BehaviorSubject: (require('rxjs/internal/BehaviorSubject') as typeof Rx).BehaviorSubject,
    ReplaySubject: (require('rxjs/internal/ReplaySubject') as typeof Rx).ReplaySubject,
    defer: (require('rxjs/internal/observable/defer') as typeof Rx).defer,
    from: (require('rxjs/internal/observable/from') as typeof Rx).from,
    concatMap: (require('rxjs/internal/operators/concatMap') as typeof Rx).concatMap,
    map: (require('rxjs/internal/operators/map') as typeof Rx).map,
  });
}

/**
 * A current value and its end, as a BehaviorSubject made on first subscription (`observable`):
 * a transport's status where nobody may ever watch it.
 */
export class LazyBehavior<T> {
  private subject?: Rx.BehaviorSubject<T>;
  private ended = false;

  constructor(private current: T) {}

  get value(): T {
    return this.current;
  }

  next(v: T): void {
    this.current = v;
    this.subject?.next(v);
  }

  complete(): void {
    this.ended = true;
    this.subject?.complete();
  }

  /** The value and its changes (a late subscriber of an ended one gets the last value, then the end). */
  get observable(): Rx.BehaviorSubject<T> {
    if (!this.subject) {
      this.subject = new (rx().BehaviorSubject)<T>(this.current);
      if (this.ended) this.subject.complete();
    }
    return this.subject;
  }
}
