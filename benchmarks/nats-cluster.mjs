// raybus on NATS JetStream next to raw @nats-io request/reply, in one run on one server:
// trivial tasks and actor calls, one round trip at a time (sync) and 1,000 in flight (async),
// on a raybus/testing Cluster of one `raybus start` process (2 CPUs); then values of 100 MB.
// `npm run bench` runs it (section "raybus on NATS"); on its own:
//
//   npm run build && node benchmarks/nats-cluster.mjs
//
// Environment: RAYBUS_BENCH_NATS_URL (default nats://127.0.0.1:4222; JetStream on), the timing
// variables of harness.mjs, BENCH_LARGE=0 to skip the 100 MB rows. The cluster's streams are
// deleted afterwards (the lease bucket of the default name space, raybus_lease_6000, is left:
// its keys expire on their own).
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { withTimeout } from './harness.mjs';
import { runRaybusSuite } from './raybus-suite.mjs';
import { runNatsAnchor } from './anchors/nats-rpc.mjs';
import { runLargeValues, runLargeValueAnchors } from './large-values.mjs';
import { smallValue } from './raybus-remote-code.mjs';

/** The metrics measured on NATS (those of the headline, tasks and actor calls). */
export const NATS_METRICS = /^(single client tasks (sync|async)|1:1 actor calls (sync|async)|1:1 async-actor calls async)$/;

/** The names of the server's streams; none where it cannot be reached. */
export async function streamNames(url) {
  let nc;
  try {
    nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    const names = [];
    for await (const si of jsm.streams.list()) names.push(si.config.name);
    return names;
  } catch {
    return [];
  } finally {
    await nc?.close();
  }
}

/**
 * Delete the lease buckets (`KV_raybus_lease_<ttl>`) not in `before`: the clusters' nodes make
 * them in the name space they share, not under a cluster's name, so deleting a cluster's
 * streams leaves them.
 */
export async function deleteNewLeaseBuckets(url, before) {
  const made = (await streamNames(url)).filter((n) => n.startsWith('KV_raybus_lease_') && !before.includes(n));
  if (made.length === 0) return;
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const s of made) await jsm.streams.delete(s).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/** Delete the streams of the cluster at `address` (its name is in every stream name). */
export async function deleteClusterStreams(url, address) {
  const name = new URL(address).searchParams.get('cluster');
  if (!name) return;
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const mine = [];
    for await (const si of jsm.streams.list()) if (si.config.name.includes(name)) mine.push(si.config.name);
    for (const s of mine) await jsm.streams.delete(s).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/**
 * raybus on NATS: { results, large } or { na }.
 * @param {typeof import('raybus').default} ray  not initialized
 */
export async function runRaybusOnNats(ray, testing, url, { full = false, only, large = true } = {}) {
  let cluster;
  try {
    cluster = await withTimeout(testing.Cluster.start({ address: url, nodes: [{ numCpus: 2 }] }), 60_000, 'starting a node on NATS');
    await withTimeout(ray.init({ address: cluster.address }), 30_000, 'init on NATS');
    await withTimeout(ray.get(ray.remote(smallValue).remote()), 30_000, 'a first task on NATS');
    const metrics = only ? new RegExp(`(?=${NATS_METRICS.source})${only.source}`) : NATS_METRICS;
    const results = await runRaybusSuite(ray, { full, label: 'NATS', only: metrics });
    return { results, large: large ? await runLargeValues(ray, 'NATS') : [] };
  } catch (err) {
    return { na: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  } finally {
    if (ray.isInitialized()) await withTimeout(ray.shutdown(), 30_000, 'shutdown').catch(() => undefined);
    if (cluster) {
      await withTimeout(cluster.shutdown(), 60_000, 'stopping the NATS node').catch(() => undefined);
      await deleteClusterStreams(url, cluster.address).catch(() => undefined);
    }
  }
}

// `node benchmarks/nats-cluster.mjs`: the NATS rows, the anchor, and the comparison.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { default: ray } = await import('raybus');
  const testing = await import('raybus/testing');
  const url = process.env.RAYBUS_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
  const large = process.env.BENCH_LARGE !== '0';
  const before = await streamNames(url);
  const nats = await runRaybusOnNats(ray, testing, url, { large });
  await deleteNewLeaseBuckets(url, before);
  if (nats.na) {
    console.log(`raybus on NATS: n/a (${nats.na})`);
    process.exit(1);
  }
  const { results: anchor } = await runNatsAnchor(url);
  const rawLarge = large ? await runLargeValueAnchors({ natsUrl: url }) : [];
  const byKind = Object.fromEntries(anchor.map((r) => [r.kind, r.mean]));
  console.log('\nraybus on NATS vs raw @nats-io request/reply (same server, same run):');
  for (const r of nats.results) {
    const a = byKind[r.kind];
    console.log(`  ${r.name.padEnd(40)} ${Math.round(r.mean).toString().padStart(7)} /s   ${a ? `${((100 * r.mean) / a).toFixed(0)}% of @nats-io ${r.kind} (${Math.round(a)} /s)` : ''}`);
  }
  for (const r of [...nats.large, ...rawLarge]) console.log(`  ${r.name.padEnd(52)} ${Number.isFinite(r.mean) ? r.mean.toFixed(0) : r.error ?? '-'} MB/s`);
  setTimeout(() => process.exit(0), 2000).unref();
}
