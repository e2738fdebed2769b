// A streaming pipeline: a generator task yields readings as it produces them, RxJS shapes
// the stream (windowed averages), and an actor collects the alerts.
// Run with `npx tsx examples/streaming-pipeline.ts`, or compile with tsc and run with node.
import { bufferCount, lastValueFrom, map, mergeMap, toArray } from 'rxjs';
import ray from 'raybus';

/** Yields `n` readings of a sensor that drifts upwards (deterministic, for the check below). */
export async function* sensor(n: number): AsyncGenerator<{ t: number; value: number }> {
  for (let t = 0; t < n; t++) yield { t, value: 20 + t * 0.5 + (t % 3) };
}

export class AlertLog {
  private readonly alerts: string[] = [];
  record(line: string): number {
    this.alerts.push(line);
    return this.alerts.length;
  }
  all(): string[] {
    return this.alerts;
  }
}

const readings = ray.remote(sensor);
const Log = ray.remote(AlertLog);

async function main(): Promise<void> {
  await ray.init();
  const log = Log.options({ numCpus: 0 }).remote();
  const averages = await lastValueFrom(
    readings
      .remote(40)
      .asObservable()
      .pipe(
        bufferCount(5),
        map((w) => ({ from: w[0]!.t, avg: w.reduce((s, r) => s + r.value, 0) / w.length })),
        mergeMap(async (w) => {
          if (w.avg > 30) await ray.get(log.record.remote(`window from t=${w.from}: average ${w.avg.toFixed(1)} above 30`));
          return w;
        }),
        toArray(),
      ),
  );
  const alerts = await ray.get(log.all.remote());
  console.log(`${averages.length} windows; ${alerts.length} alerts`);
  for (const a of alerts) console.log(' ', a);
  if (averages.length !== 8 || alerts.length !== 4) throw new Error(`expected 8 windows and 4 alerts, got ${averages.length} and ${alerts.length}`);
  await ray.shutdown();
}

if (process.argv[1] && /streaming-pipeline\.(ts|js|mjs|cjs)$/.test(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
