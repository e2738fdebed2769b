/**
 * The few rxjs values raybus constructs, each from its own module: rxjs's index loads all of
 * its 200-odd modules (about 5 MB in every process, worker processes included). Types still
 * come from 'rxjs' itself, so that declarations name only its public entry.
 */
export { BehaviorSubject } from 'rxjs/internal/BehaviorSubject';
export { ReplaySubject } from 'rxjs/internal/ReplaySubject';
export { defer } from 'rxjs/internal/observable/defer';
export { from } from 'rxjs/internal/observable/from';
export { concatMap } from 'rxjs/internal/operators/concatMap';
export { map } from 'rxjs/internal/operators/map';
