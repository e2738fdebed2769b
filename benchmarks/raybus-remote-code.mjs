// The remote functions and actor classes of Ray's ray_perf.py, ported.
//
// Each uses only its arguments, globals and `ray`, so raybus ships it by value (its source):
// worker processes never import this module. Sync actors return promises from plain methods
// (not `async`), so they stay sync actors (maxConcurrency 1), as Ray's blocking ray.get does.
import ray from 'raybus';

/** Ray's `small_value`: a trivial task. */
export function smallValue() {
  return 'ok';
}

/** Ray's `small_value_arg`: a trivial task with one argument. */
export function smallValueArg(_x) {
  return 'ok';
}

/** Ray's `do_put_small`: 100 small puts inside a task. */
export function doPutSmall() {
  for (let i = 0; i < 100; i++) ray.put(0);
  return 0;
}

/** Ray's `create_object_containing_ref`: a result holding 10,000 refs. */
export function createObjectContainingRef() {
  const refs = [];
  for (let i = 0; i < 10_000; i++) refs.push(ray.put(1));
  return refs;
}

/** Ray's `work` (n:n actor calls): n calls round-robin over the actors, then get all. */
export function work(actors, n) {
  const refs = [];
  for (let i = 0; i < n; i++) refs.push(actors[i % actors.length].small_value.remote());
  return ray.get(refs).then(() => 0);
}

/** Ray's `Actor`. */
export class Actor {
  small_value() {
    return 'ok';
  }
  small_value_arg(_x) {
    return 'ok';
  }
  small_value_batch(n) {
    this.f ??= ray.remote(function smallValue() {
      return 'ok';
    });
    const refs = [];
    for (let i = 0; i < n; i++) refs.push(this.f.remote());
    return ray.get(refs).then(() => 0);
  }
}

/** Ray's `AsyncActor`. */
export class AsyncActor {
  async small_value() {
    return 'ok';
  }
  async small_value_with_arg(_x) {
    return 'ok';
  }
}

/** Ray's `Client` (num_cpus=0): calls its servers in batches. */
export class Client {
  constructor(servers) {
    this.servers = Array.isArray(servers) ? servers : [servers];
  }
  small_value_batch(n) {
    const results = [];
    for (const s of this.servers) for (let i = 0; i < n; i++) results.push(s.small_value.remote());
    return ray.get(results).then(() => 0);
  }
  small_value_batch_arg(n) {
    const x = ray.put(0);
    const results = [];
    for (const s of this.servers) for (let i = 0; i < n; i++) results.push(s.small_value_arg.remote(x));
    return ray.get(results).then(() => 0);
  }
}

/** A trivial actor for the scaling table. */
export class Pinger {
  ping() {
    return 0;
  }
  /** Its worker process (the scaling table reads its RSS). */
  pid() {
    return process.pid;
  }
}
