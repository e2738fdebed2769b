/**
 * Chaos: real SIGKILLs of worker processes while work runs, on the embedded default.
 * Small in CI; `npm run chaos` runs the sizes of the fault-tolerance issue (CHAOS_FULL=1).
 * Ports the spirit of Ray's test_chaos / test_actor_restart_with_retry; every figure is
 * printed so the run can be quoted.
 */
import type * as Ray from '../../src/index';
import type * as Testing from '../../src/testing/index';

const ray: typeof Ray = require('raybus');
const { embeddedNode }: typeof Testing = require('raybus/testing');

const FULL = process.env.CHAOS_FULL === '1';
const TASKS = FULL ? 2000 : 300;
const CALLS = FULL ? 200 : 60;
const MAXCALLS_TASKS = FULL ? 2000 : 300;
/** CHAOS_KILLS=0 runs the same work without kills: the fault-free baseline for the timings. */
const KILLS = process.env.CHAOS_KILLS !== '0';

jest.setTimeout(FULL ? 600_000 : 180_000);

/** SIGKILL a random worker (other than `spare`) every `minMs`–`maxMs` until stopped. */
function startKiller(
  minMs: number,
  maxMs: number,
  spare: () => number[] = () => [],
  only?: () => number[],
): { stop(): number; killed: number[] } {
  let kills = 0;
  const killed: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = (): void => {
    if (stopped || !KILLS) return;
    const live = embeddedNode()?.workerPids() ?? [];
    const targets = only ? only().filter((p) => live.includes(p)) : live;
    const pids = targets.filter((p) => !spare().includes(p));
    const pid = pids[Math.floor(Math.random() * pids.length)];
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
        kills += 1;
        killed.push(pid);
      } catch {
        /* already gone */
      }
    }
    timer = setTimeout(tick, minMs + Math.random() * (maxMs - minMs));
  };
  timer = setTimeout(tick, minMs);
  return {
    killed,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      return kills;
    },
  };
}

beforeAll(async () => {
  await ray.init({ numCpus: 2 });
});

afterAll(async () => {
  await ray.shutdown();
});

// Ray: test_failure.py::test_retry_system_level_error, under load
test(`${TASKS} tasks with maxRetries -1 while a busy worker is SIGKILLed every 1-2 s: none lost, none wrong`, async () => {
  const work = ray.remote({ maxRetries: -1 })(async (i: number, ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    return [i * 2, ray.getRuntimeContext().attempt];
  });
  const t0 = Date.now();
  const killer = startKiller(1000, 2000);
  const results = (await ray.get(Array.from({ length: TASKS }, (_, i) => work.remote(i, 20 + Math.floor(Math.random() * 80))))) as number[][];
  const kills = killer.stop();
  const elapsed = Date.now() - t0;
  const wrong = results.filter(([v], i) => v !== i * 2).length;
  const reexecuted = results.filter(([, attempt]) => attempt! > 0).length;
  console.log(`chaos tasks: ${TASKS} tasks, ${kills} kills, 0 lost, ${wrong} wrong, ${reexecuted} re-executed, ${elapsed} ms`);
  expect(results).toHaveLength(TASKS);
  expect(wrong).toBe(0);
});

const Ledger = ray.remote(
  class Ledger {
    entries: Array<[number, number]> = [];
    record(caller: number, seq: number) {
      this.entries.push([caller, seq]);
      return true;
    }
    dump() {
      return this.entries;
    }
    pid() {
      return process.pid;
    }
  },
);

const Forwarder = ray.remote(
  class Forwarder {
    async forward(ledger: Ray.ActorHandle<{ record(c: number, s: number): boolean }>, caller: number, seq: number, ms: number) {
      // Work before recording, so kills land while calls are in flight.
      await new Promise((r) => setTimeout(r, ms));
      await ray.get(ledger.record.remote(caller, seq));
      return process.pid;
    }
  },
);

async function runLedgerChaos(maxTaskRetries: number) {
  const ledger = Ledger.remote();
  const ledgerPid = (await ray.get(ledger.pid.remote())) as number;
  // maxConcurrency 1: one call at a time, so each caller's calls run in submission order.
  const forwarders = Array.from({ length: 8 }, () => Forwarder.options({ maxRestarts: -1, maxTaskRetries, maxConcurrency: 1 }).remote());
  await ray.get(forwarders.map((f) => f.__ray_ready__.remote()));
  // Kill only processes known to host a forwarder now (learnt from their answers), never the
  // ledger or an idle worker: the chaos is aimed at the actors under test.
  const forwarderPids = new Map<number, number>();
  const killer = startKiller(1000, 2000, () => [ledgerPid], () => [...forwarderPids.values()]);
  const t0 = Date.now();
  // Diagnostics for a failed run: which processes were killed, and which one the ledger had.
  const diag = (): string => `ledger pid ${ledgerPid}; killed ${killer.killed.join(', ')}`;
  const refs = forwarders.map((f, caller) =>
    Array.from({ length: CALLS }, (_, seq) => f.forward.remote(ledger as never, caller, seq, 50 + Math.floor(Math.random() * 100))),
  );
  const settled = await Promise.all(
    refs.map((row, caller) =>
      Promise.all(
        row.map((r) =>
          ray.get(r).then(
            (pid) => {
              forwarderPids.set(caller, pid as number);
              return 'ok' as const;
            },
            (e: Error) => e,
          ),
        ),
      ),
    ),
  );
  const ledgerDeath = settled.flat().find((x) => x !== 'ok' && /Ledger/.test((x as Error).message));
  if (ledgerDeath) console.log(`chaos: the ledger died (${(ledgerDeath as Error).message}); ${diag()}`);
  const kills = killer.stop();
  const entries = (await ray.get(ledger.dump.remote())) as Array<[number, number]>;
  await Promise.all([ledger, ...forwarders].map((h) => ray.kill(h)));
  return { settled, entries, kills, elapsed: Date.now() - t0 };
}

// Ray: test_actor_failures.py::test_actor_restart_with_retry, at scale
test(`8 actors x ${CALLS} sequenced calls, maxRestarts -1, maxTaskRetries -1, SIGKILL every 2 s: nothing missing, order kept`, async () => {
  const { settled, entries, kills, elapsed } = await runLedgerChaos(-1);
  const failures = settled.flat().filter((s) => s !== 'ok');
  let duplicates = 0;
  for (let caller = 0; caller < 8; caller++) {
    const seqs = entries.filter(([c]) => c === caller).map(([, s]) => s);
    const firsts: number[] = [];
    const seen = new Set<number>();
    for (const s of seqs) {
      if (seen.has(s)) duplicates += 1;
      else {
        seen.add(s);
        firsts.push(s);
      }
    }
    // No missing sequence number, and first executions in per-caller order.
    expect(firsts).toEqual(Array.from({ length: CALLS }, (_, i) => i));
  }
  console.log(`chaos actors (at-least-once): ${8 * CALLS} calls, ${kills} kills, 0 missing, ${duplicates} re-executed, ${failures.length} failed, ${elapsed} ms`);
  expect(failures).toEqual([]);
});

test(`the same with maxTaskRetries 0: no call executed twice, every incomplete call is a RayActorError`, async () => {
  const { settled, entries, kills, elapsed } = await runLedgerChaos(0);
  const keys = entries.map(([c, s]) => `${c}:${s}`);
  expect(new Set(keys).size).toBe(keys.length);
  const recorded = new Set(keys);
  let failed = 0;
  settled.forEach((row, caller) =>
    row.forEach((s, seq) => {
      if (s === 'ok') expect(recorded.has(`${caller}:${seq}`)).toBe(true);
      else {
        failed += 1;
        expect(s).toBeInstanceOf(ray.RayActorError);
      }
    }),
  );
  console.log(`chaos actors (at-most-once): ${8 * CALLS} calls, ${kills} kills, 0 executed twice, ${failed} surfaced as RayActorError, ${elapsed} ms`);
});

// Ray: test_basic.py::test_background_tasks_with_max_calls, at scale
test(`maxCalls 10 over ${MAXCALLS_TASKS} tasks: none lost, workers replaced about every 10 runs`, async () => {
  const pid = ray.remote({ maxCalls: 10, maxRetries: 0 })((i: number) => [i, process.pid]);
  const t0 = Date.now();
  const results = (await ray.get(Array.from({ length: MAXCALLS_TASKS }, (_, i) => pid.remote(i)))) as number[][];
  const perPid = new Map<number, number>();
  for (const [, p] of results) perPid.set(p!, (perPid.get(p!) ?? 0) + 1);
  console.log(`chaos maxCalls: ${MAXCALLS_TASKS} tasks, 0 lost, ${perPid.size} workers used, ${Date.now() - t0} ms`);
  expect(results.map(([i]) => i)).toEqual(Array.from({ length: MAXCALLS_TASKS }, (_, i) => i));
  expect(Math.max(...perPid.values())).toBeLessThanOrEqual(10);
  expect(perPid.size).toBeGreaterThanOrEqual(MAXCALLS_TASKS / 10);
});
