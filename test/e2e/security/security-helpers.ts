/**
 * Helpers of the security suites: attackers on a cluster's bus (a broker user without the
 * cluster key, and one with another key), what a node process refused (from `raybus status`'s
 * cluster state), its worker processes and memory (Linux /proc), and marker files that a
 * forged module would write.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTransport } from '../../../src/transport/transport-registry';
import { openClusterTransport } from '../../../src/runtimes/open-transport';
import { clusterState } from '../../../src/broker/broker-query';
import { encodeEnvelope } from '../../../src/serialization/serializer';
import type { Transport } from '../../../src/transport/transport';
import type { ClusterState } from '../../../src/protocol/wire';
import { eventually } from '../amqp-e2e-helpers';

/** Someone with the broker's credentials: without the key, or with another key. */
export interface Attackers {
  readonly noKey: Transport;
  readonly otherKey: Transport;
  /** Both, for attacks each of them makes. */
  readonly all: readonly Transport[];
  close(): Promise<void>;
}

/** Connect both attackers to the cluster at `address`. */
export async function connectAttackers(address: string): Promise<Attackers> {
  const noKey = createTransport(address, { connectionName: 'raybus test attacker (no key)' });
  const otherKey = openClusterTransport(address, { connectionName: 'raybus test attacker (other key)', clusterKey: randomBytes(32).toString('hex') });
  await Promise.all([noKey.connect(), otherKey.connect()]);
  return {
    noKey,
    otherKey,
    all: [noKey, otherKey],
    close: async () => {
      await Promise.all([noKey.close(), otherKey.close()].map((p) => p.catch(() => undefined)));
    },
  };
}

/** Every attacker publishes `msg` (encoded as raybus would) to `queue`. */
export async function everyonePublishes(attackers: Attackers, queue: string, msg: unknown): Promise<void> {
  for (const t of attackers.all) await t.publish(queue, encodeEnvelope(msg));
}

/** Unauthenticated messages the cluster's node processes refused so far (as they last reported). */
export function refusedIn(state: ClusterState): number {
  return state.nodes.reduce((n, x) => n + Object.values(x.refused ?? {}).reduce((a, b) => a + b, 0), 0);
}

/** Malformed messages the node processes and the broker leader refused so far. */
export function malformedIn(state: ClusterState): number {
  return state.nodes.reduce((n, x) => n + (x.malformed ?? 0), 0) + (state.leader.malformed ?? 0);
}

/** Resolves once the nodes reported at least `atLeast` refusals in all (by `count`). */
export async function awaitRefusals(admin: Transport, atLeast: number, count: (s: ClusterState) => number = refusedIn, timeoutMs = 20_000): Promise<ClusterState> {
  return eventually(
    async () => {
      const s = await clusterState(admin, 5000);
      return count(s) >= atLeast ? s : undefined;
    },
    timeoutMs,
    `the nodes to report ${atLeast} refused messages`,
    100,
  );
}

/** A file a forged module would create, and the module source that creates it. */
export interface Marker {
  readonly file: string;
  /** An ES module (as a `data:` URL) that writes the marker. */
  readonly dataModule: string;
  /** A CommonJS file that writes the marker (for by-reference code). */
  readonly cjsFile: string;
  exists(): boolean;
}

/** A new marker under the OS temp directory. */
export function newMarker(dir: string, name: string): Marker {
  const file = path.join(dir, `${name}-${randomBytes(4).toString('hex')}.pwned`);
  const esm = `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(file)}, 'pwned');`;
  const cjsFile = path.join(dir, `${name}-${randomBytes(4).toString('hex')}.cjs`);
  writeFileSync(cjsFile, `require('node:fs').writeFileSync(${JSON.stringify(file)}, 'pwned');`);
  return { file, dataModule: `data:text/javascript,${encodeURIComponent(esm)}`, cjsFile, exists: () => existsSync(file) };
}

/** Pids of the processes whose parent is `pid` (a node's workers). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Resident memory of process `pid`, in bytes (0 when it is gone). */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The environment of process `pid` as it started (Linux /proc). */
export function environOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return '';
  }
}

/** True when process `pid` exists. */
export { isAlive as alive } from '../../support/processes';

/** A scratch directory for markers. */
export function scratchDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'raybus-security-'));
}
