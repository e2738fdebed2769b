/**
 * The key on the command line and in `init`: `raybus keygen` makes a key file; a bus that is
 * not on this machine needs a key (or `--insecure` / `insecure: true`, which warns at every
 * start); `raybus status` shows what each node refused.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ray from '../../../src/index';
import type * as Testing from '../../../src/testing/index';
import { AMQP_TEST_URL, describeWithBroker } from '../../conformance/amqp-broker';
import { lockAmqpSuites, RAYBUS_CLI } from '../amqp-e2e-helpers';
import { expectWarnings } from '../../support/expected-warnings';
import { BROKER_QUEUE } from '../../../src/protocol/queues';
import { encodeEnvelope } from '../../../src/serialization/serializer';
import { connectAttackers, awaitRefusals } from './security-helpers';
import { openClusterTransport } from '../../../src/runtimes/open-transport';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

jest.setTimeout(90_000);
/** A broker that is not on this machine (the key rule refuses before anything connects). */
const REMOTE = 'amqp://guest:guest@rabbit.invalid:5672';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RAYBUS_CLI, ...args], { env: { ...process.env, RAYBUS_CLUSTER_KEY: '', ...env }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let dir: string;
beforeAll(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-cli-security-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('raybus keygen writes a key file (one line, 64 hex characters, mode 600) and never overwrites one', async () => {
  const file = path.join(dir, 'cluster.key');
  const made = await cli(['keygen', '--out', file]);
  expect(made.code).toBe(0);
  expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(made.stderr).toMatch(/wrote a new cluster key/);
  const again = await cli(['keygen', '--out', file]);
  expect(again.code).toBe(1);
  expect(again.stderr.trim().split('\n')).toHaveLength(1);
  expect(again.stderr).toMatch(/exists already/);
  const printed = await cli(['keygen']);
  expect(printed.stdout).toMatch(/^[0-9a-f]{64}\n$/);
});

test('a bus that is not on this machine: start, status and list refuse to run without a key, in one line', async () => {
  for (const args of [['start', '--address', REMOTE], ['status', '--address', REMOTE], ['list', 'nodes', '--address', REMOTE]]) {
    const r = await cli(args);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/refusing to connect to amqp:\/\/guest:\*\*\*@rabbit\.invalid:5672 without a cluster key/);
  }
});

test('--insecure lets it try, with a warning at start', async () => {
  const r = await cli(['start', '--address', REMOTE, '--insecure', '--num-cpus', '0']);
  expect(r.stdout).toMatch(/warning: WARNING: insecure: running without a cluster key/);
  expect(r.code).toBe(1);
  expect(r.stderr).not.toMatch(/without a cluster key/);
  expect(r.stderr).toMatch(/ENOTFOUND|EAI_AGAIN|getaddrinfo/);
});

test('init: a network bus without a key is refused; insecure: true warns and tries', async () => {
  await expect(ray.init({ address: REMOTE })).rejects.toThrow(/refusing to connect .* without a cluster key/);
  expect(ray.isInitialized()).toBe(false);
  const insecure = expectWarnings(/WARNING: insecure: running without a cluster key on amqp:\/\/guest:\*\*\*@rabbit\.invalid/);
  await expect(ray.init({ address: REMOTE, insecure: true })).rejects.toThrow(/cannot join the cluster/);
  expect(insecure.messages()).toHaveLength(1);
  expect(() => ray.init({ address: REMOTE, insecure: 'yes' as unknown as boolean })).toThrow(/insecure/);
  expect(() => ray.init({ address: REMOTE, encrypt: 1 as unknown as boolean })).toThrow(/encrypt/);
});

describeWithBroker('raybus status on RabbitMQ', () => {
  let cluster: Testing.Cluster;
  let unlock: () => void = () => undefined;

  beforeAll(async () => {
    unlock = await lockAmqpSuites();
    process.env.RAYBUS_LEASE_REPORT_MS = '300';
    cluster = await Cluster.start({ address: AMQP_TEST_URL, nodes: [{ numCpus: 1 }] });
    delete process.env.RAYBUS_LEASE_REPORT_MS;
  }, 90_000);

  afterAll(async () => {
    await cluster?.shutdown();
    unlock();
  }, 60_000);

  test('shows what each node refused; without the key it gets no answer', async () => {
    const attackers = await connectAttackers(cluster.address);
    const admin = openClusterTransport(cluster.address, { clusterKey: cluster.clusterKey! });
    await admin.connect();
    try {
      for (let i = 0; i < 5; i++) for (const t of attackers.all) await t.publish(BROKER_QUEUE, encodeEnvelope({ t: 'node-gone', node: `x${i}` }));
      await awaitRefusals(admin, 10);
    } finally {
      await attackers.close();
      await admin.close();
    }
    const keyFile = path.join(dir, `k-${randomBytes(3).toString('hex')}`);
    writeFileSync(keyFile, `${cluster.clusterKey}\n`, { mode: 0o600 });
    const status = await cli(['status', '--address', cluster.address, '--cluster-key-file', keyFile]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/refused 10 unauthenticated \(.*not sealed with a cluster key: 5.*\)|refused 10 unauthenticated \(.*bad seal.*: 5.*\)/);
    expect(status.stdout).toMatch(/Refused messages: 10 unauthenticated, 0 malformed/);
    const keyless = await cli(['status', '--address', cluster.address], { RAYBUS_QUERY_TIMEOUT_MS: '1500' });
    expect(keyless.code).toBe(1);
    expect(keyless.stderr).toMatch(/no broker leader answered.*cluster key/);
  });

  test('a cluster without a key on this machine (clusterKey: null) still works, unauthenticated', async () => {
    const open = await Cluster.start({ address: AMQP_TEST_URL, clusterKey: null, nodes: [{ numCpus: 1 }] });
    try {
      expect(open.clusterKey).toBeUndefined();
      await ray.init({ address: open.address });
      expect(await ray.get(ray.remote((a: number) => a + 1).remote(1), { timeoutMs: 60_000 })).toBe(2);
      const env = await ray.get(ray.remote(() => process.env.RAYBUS_REQUIRE_SIGNED_CODE ?? 'unset').remote(), { timeoutMs: 60_000 });
      expect(env).toBe('unset');
    } finally {
      await ray.shutdown().catch(() => undefined);
      await open.shutdown();
    }
  });
});
