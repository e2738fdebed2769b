// The hidden cost of metrics: the four headline loops of the embedded default (tasks and actor
// calls, sync and 1,000 in flight) with metrics off (`init()`) and on (`init({ dashboard })`,
// /metrics scraped every second, as a Prometheus watching the cluster does), in the same run,
// alternating off / on twice; each figure is the mean of its two passes.
import { runRaybusSuite } from './raybus-suite.mjs';
import { withTimeout } from './harness.mjs';

const HEADLINE = /^(single client tasks (sync|async)|1:1 actor calls (sync|async))$/;
const SCRAPE_MS = 1000;

/** One pass: init with or without metrics, the four loops, shutdown. */
async function pass(ray, metrics) {
  const info = await withTimeout(ray.init(metrics ? { dashboard: { port: 0 } } : {}), 30_000, 'init');
  let scraper;
  let scrapes = 0;
  try {
    if (metrics) {
      // One scrape first (loads and warms the metrics), then one every second.
      await (await fetch(`${info.dashboardUrl}/metrics`)).text();
      scraper = setInterval(() => {
        fetch(`${info.dashboardUrl}/metrics`).then((r) => r.text()).then(() => (scrapes += 1), () => undefined);
      }, SCRAPE_MS);
    }
    const results = await runRaybusSuite(ray, { label: metrics ? 'metrics on' : 'metrics off', only: HEADLINE });
    return { results, scrapes };
  } finally {
    clearInterval(scraper);
    await withTimeout(ray.shutdown(), 30_000, 'shutdown');
  }
}

/** Rows `{ name, off, on }` (ops/s, means of the passes) and the scrapes made while on. */
export async function runMetricsCost(ray, passes = 2) {
  const by = new Map();
  let scrapes = 0;
  for (let i = 0; i < passes; i++) {
    for (const metrics of [false, true]) {
      const r = await pass(ray, metrics);
      scrapes += r.scrapes;
      for (const m of r.results) {
        const row = by.get(m.name) ?? { name: m.name, off: [], on: [] };
        if (Number.isFinite(m.mean)) row[metrics ? 'on' : 'off'].push(m.mean);
        by.set(m.name, row);
      }
    }
  }
  const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  return { rows: [...by.values()].map((r) => ({ name: r.name, off: mean(r.off), on: mean(r.on) })), scrapes, passes, scrapeMs: SCRAPE_MS };
}
