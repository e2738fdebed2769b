// Actor creation on warm workers: a driver of its own whose node keeps N workers started ahead
// of demand (RAYBUS_PRESTART_WORKERS=N, Ray's worker pool prestart), then N actors created at
// once, each taking a warm worker, timed to their first answers. What creating an actor costs
// when no process has to start for it; the scaling table's other rows start one per actor.
//   node benchmarks/prestarted-actors.mjs [n=10]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** How long the started workers get to finish loading before the clock starts. */
const SETTLE_MS = 2000;

/** The row from a process of its own (the bench's driver keeps its own prestart): { actors, prestarted, createS, actorsPerS } or { actors, error }. */
export function runPrestartedActorsProcess(n) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), String(n)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, RAYBUS_PRESTART_WORKERS: String(n) },
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        resolve(JSON.parse(out.trimEnd().split('\n').pop() ?? ''));
      } catch (err) {
        const error = `prestarted-actors process: ${err instanceof Error ? err.message : String(err)}`;
        console.log(`  [scaling] ${n} actors on prestarted workers: error ${error}`);
        resolve({ actors: n, prestarted: n, error });
      }
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ray = (await import('raybus')).default;
  const { Pinger } = await import('./raybus-remote-code.mjs');
  const { childPids: children } = await import('./scaling.mjs');
  const n = Number(process.argv[2] ?? 10);
  await ray.init();
  const Ping = ray.remote(Pinger);
  // The pool's workers started (the node starts them at init), then given time to load.
  const until = Date.now() + 60_000;
  while (children().size < n && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const before = children();
  const t0 = performance.now();
  const actors = Array.from({ length: n }, () => Ping.remote());
  const pids = await ray.get(actors.map((a) => a.pid.remote()));
  const createS = (performance.now() - t0) / 1000;
  // Each actor took a worker that was up before the clock started.
  const warm = pids.filter((pid) => before.has(String(pid))).length;
  console.log(`  [scaling] ${n} actors on ${n} prestarted workers: created in ${createS.toFixed(2)} s (${(n / createS).toFixed(1)}/s), ${warm} of them on a worker started before`);
  await Promise.all(actors.map((a) => ray.kill(a, { noRestart: true })));
  await ray.shutdown();
  console.log(JSON.stringify({ actors: n, prestarted: n, warm, createS, actorsPerS: n / createS }));
}
