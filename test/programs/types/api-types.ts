// Compile-time checks of the public types: `tsc --noEmit` must pass, and each line after an
// expect-error marker must fail to compile (an unused marker is itself an error).
import ray, { type ActorHandle, type ObjectRef } from 'raybus';
import { Cluster } from 'raybus/testing';

const divmod = (a: number, b: number): [number, number] => [Math.floor(a / b), a % b];

// ray.remote(options)(f) is typed like ray.remote(f).
const heavy = ray.remote({ numCpus: 2 })((x: number) => x * 2);
export const doubled: ObjectRef<number> = heavy.remote(1);
// @ts-expect-error the argument must be a number
heavy.remote('not a number');
// @ts-expect-error the result is a number
export const notString: ObjectRef<string> = heavy.remote(1);

// numReturns: 2 gives a tuple of refs, each typed.
const dm = ray.remote(divmod);
const [q, r] = dm.options({ numReturns: 2 }).remote(7, 2);
export const quotient: Promise<number> = ray.get(q);
export const both: Promise<readonly [number, number]> = ray.get([q, r] as const);
const [q2] = ray.remote({ num_returns: 2 })(divmod).remote(7, 2);
// @ts-expect-error q2 is a ref to a number
export const wrong: Promise<string> = ray.get(q2);
// A function returning an array: numReturns refs of its element type.
const [a1, a2, a3] = ray.remote({ numReturns: 3 })((): number[] => [1, 2, 3]).remote();
export const elems: Promise<number[]> = ray.get([a1, a2, a3]);

// Option names are checked, in remote(), .options() and init().
// @ts-expect-error numCpu is not an option
ray.remote({ numCpu: 2 })((x: number) => x);
// @ts-expect-error numReturn is not an option
dm.options({ numReturn: 2 });
// @ts-expect-error maxRetires is not an option
dm.options({ maxRetires: 3 });
// @ts-expect-error numCpu is not an option
export const initTypo = ray.init({ numCpu: 2 });
// Ray's snake_case names are options too.
dm.options({ max_retries: 1, num_cpus: 1 });

// Actors.
class Counter {
  n = 0;
  inc(by: number): number {
    return (this.n += by);
  }
  pair(): [number, string] {
    return [1, 'a'];
  }
}
const CounterActor = ray.remote({ maxRestarts: 1 })(Counter);
const counter: ActorHandle<Counter> = CounterActor.options({ name: 'c', numCpus: 0 }).remote();
export const incremented: ObjectRef<number> = counter.inc.remote(1);
// @ts-expect-error inc takes a number
counter.inc.remote('x');
const [p1, p2] = counter.pair.options({ numReturns: 2 }).remote();
export const first: Promise<number> = ray.get(p1);
export const second: Promise<string> = ray.get(p2);
// @ts-expect-error maxRestart is not an option
CounterActor.options({ maxRestart: 1 });
// @ts-expect-error numReturn is not an option
counter.inc.options({ numReturn: 2 });

// ray.method is typed: it returns the method it wraps.
const pairMethod = ray.method({ numReturns: 2 })(function pair(): [number, number] {
  return [1, 2];
});
export const pairResult: [number, number] = pairMethod();
// @ts-expect-error a method is not a string
export const notAString: string = pairMethod;
// @ts-expect-error numReturn is not an option
ray.method({ numReturn: 2 });

// Decorators (TC39, TypeScript's default).
@ray.remote
export class Plain {
  hello(): string {
    return 'hi';
  }
}
@ray.remote({ numCpus: 0, max_restarts: 1 })
export class WithOptions {
  @ray.method({ numReturns: 2 })
  pair(): [number, number] {
    return [1, 2];
  }
}

// raybus/testing compiles without global types too.
export const cluster: Promise<Cluster> = Cluster.start({ nodes: [{ numCpus: 1 }] });
// @ts-expect-error numCpu is not a node option
void Cluster.start({ nodes: [{ numCpu: 1 }] });
