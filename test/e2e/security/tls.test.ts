/**
 * TLS to the broker: a RabbitMQ node and a NATS server of the test's own, with a certificate
 * from a CA the test makes (openssl). A cluster on `amqps://` given the CA file (`caFile`,
 * `--ca-file`) runs work with every connection over TLS; without the CA file, or with another,
 * the broker's certificate is refused with a clear error. `encrypt` hides payloads from the
 * broker itself (TLS protects the wire only). Needs RabbitMQ, nats-server and openssl
 * installed (skipped without them, failing with CI=true).
 */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type * as Ray from '../../../src/index';
import type * as Testing from '../../../src/testing/index';
import { describeWithPrivateRabbitMQ, startPrivateRabbitMQ, type PrivateRabbitMQ } from '../../support/private-rabbitmq';
import { describeWithPrivateNats, startPrivateNats, type PrivateNats } from '../../support/private-nats';
import { eventually, lockAmqpSuites, RAYBUS_CLI } from '../amqp-e2e-helpers';
import { createTransport } from '../../../src/transport/transport-registry';
import { openClusterTransport } from '../../../src/runtimes/open-transport';
import { OWNER_DIED_TOPIC } from '../../../src/protocol/queues';
import { AUTHENTICATED_HEADER, type Delivery, type Transport } from '../../../src/transport/transport';
import { certificatesProblem, makeTestCertificates, type TestCertificates } from './tls-certs';

const ray: typeof Ray = require('raybus');
const { Cluster }: typeof Testing = require('raybus/testing');

jest.setTimeout(120_000);
const T = { timeoutMs: 60_000 };

/** `describe` when openssl can make certificates here; else failing with CI=true, skipped otherwise. */
function describeWithOpenssl(title: string, body: () => void): void {
  const problem = certificatesProblem();
  if (problem === undefined) describe(title, body);
  else if (process.env.CI === 'true') describe(title, () => test('needs openssl', () => void fail(problem)));
  else {
    process.stderr.write(`TLS suites skipped: ${problem} (CI=true fails instead).\n`);
    describe.skip(title, body);
  }
}

function fail(why: string): never {
  throw new Error(`cannot make test certificates: ${why}. CI must provide openssl.`);
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RAYBUS_CLI, ...args], { env: { ...process.env, RAYBUS_CLUSTER_KEY: '' }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** What a broker user without the key sees of the owner-died broadcasts while `during` runs. */
async function sniffOwnerDied(address: string, during: () => Promise<void>, caFile?: string): Promise<Buffer[]> {
  const spy = createTransport(address, { connectionName: 'raybus test sniffer', ...(caFile ? { caFile } : {}) });
  await spy.connect();
  const seen: Buffer[] = [];
  const sub = await spy.subscribe(OWNER_DIED_TOPIC, (b) => seen.push(Buffer.from(b)));
  try {
    await during();
    await eventually(() => (seen.length > 0 ? true : undefined), 20_000, 'an owner-died broadcast');
  } finally {
    await sub.cancel().catch(() => undefined);
    await spy.close().catch(() => undefined);
  }
  return seen;
}

/** A task whose worker exits after it (maxCalls 1): its node broadcasts that the worker's objects died. */
const once = ray.remote({ maxCalls: 1 })(() => ray.getRuntimeContext().workerId as string);

describeWithOpenssl('TLS', () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
  });
  afterAll(() => rmSync(certs.dir, { recursive: true, force: true }));

  describeWithPrivateRabbitMQ('amqps:// to a RabbitMQ node with a self-signed CA', () => {
    let rabbit: PrivateRabbitMQ;
    let unlock: () => void = () => undefined;

    beforeAll(async () => {
      unlock = await lockAmqpSuites();
      rabbit = await startPrivateRabbitMQ({ tls: certs });
    }, 120_000);

    afterAll(async () => {
      await rabbit?.stop();
      unlock();
    }, 90_000);

    test('with the CA file, nodes and driver connect over TLS and work runs; the broker still sees payloads', async () => {
      const cluster = await Cluster.start({ address: rabbit.tlsUrl!, caFile: certs.caFile, nodes: [{ numCpus: 1 }] });
      try {
        await ray.init({ address: cluster.address });
        expect(await ray.get(ray.remote((a: number) => a * 2).remote(21), T)).toBe(42);
        const conns = (await rabbit.ctl(['list_connections', 'ssl', 'name', '-q', '--no-table-headers'])).trim().split('\n').filter(Boolean);
        expect(conns.length).toBeGreaterThanOrEqual(3);
        expect(conns.filter((line) => !line.startsWith('true'))).toEqual([]);
        // TLS protects the wire; the broker itself reads what is not encrypted.
        let worker = '';
        const seen = await sniffOwnerDied(
          cluster.address,
          async () => {
            worker = await ray.get(once.remote(), T);
          },
          certs.caFile,
        );
        expect(seen.some((b) => b.includes(worker))).toBe(true);
        // raybus status over TLS needs the CA file too.
        const keyFile = path.join(certs.dir, 'cluster.key');
        writeFileSync(keyFile, `${cluster.clusterKey}\n`, { mode: 0o600 });
        const without = await cli(['status', '--address', cluster.address, '--cluster-key-file', keyFile]);
        expect(without.code).toBe(1);
        expect(without.stderr.trim().split('\n')).toHaveLength(1);
        expect(without.stderr).toMatch(/certificate/i);
        const withCa = await cli(['status', '--address', cluster.address, '--cluster-key-file', keyFile, '--ca-file', certs.caFile]);
        expect(withCa.stderr).toBe('');
        expect(withCa.stdout).toMatch(/Nodes: 1 alive/);
      } finally {
        await ray.shutdown().catch(() => undefined);
        await cluster.shutdown();
      }
    });

    test('without the CA file, or with another CA, the broker is refused with a clear error', async () => {
      for (const caFile of [undefined, certs.otherCaFile]) {
        const t = createTransport(rabbit.tlsUrl!, { connectAttempts: 1, ...(caFile ? { caFile } : {}) });
        await expect(t.connect()).rejects.toThrow(/certificate/i);
        await t.close().catch(() => undefined);
      }
    });

    test('encrypt: the broker (and anyone reading its queues without the key) sees no payload', async () => {
      const cluster = await Cluster.start({ address: rabbit.url, encrypt: true, nodes: [{ numCpus: 1 }] });
      try {
        await ray.init({ address: cluster.address });
        expect(await ray.get(ray.remote((s: string) => s.toUpperCase()).remote('secret'), T)).toBe('SECRET');
        let worker = '';
        const seen = await sniffOwnerDied(cluster.address, async () => {
          worker = await ray.get(once.remote(), T);
        });
        expect(seen.length).toBeGreaterThan(0);
        expect(seen.some((b) => b.includes(worker) || b.includes('raybus.reply'))).toBe(false);
      } finally {
        await ray.shutdown().catch(() => undefined);
        await cluster.shutdown();
      }
    });
  });

  describeWithPrivateNats('NATS with TLS', () => {
    let nats: PrivateNats;
    beforeAll(async () => {
      nats = await startPrivateNats({ tls: certs });
    }, 60_000);
    afterAll(() => nats?.stop());

    test('with the CA file, authenticated messages round trip over TLS; without it the server is refused', async () => {
      const open = (): Transport => openClusterTransport(nats.url, { connectionName: 'raybus tls test', clusterKey: 'k'.repeat(64), caFile: certs.caFile, connectAttempts: 1 });
      const a = open();
      const b = open();
      await Promise.all([a.connect(), b.connect()]);
      try {
        await a.assertQueue('raybus.tls-test');
        const got: Delivery[] = [];
        await b.consume('raybus.tls-test', (d) => (d.ack(), got.push(d)), { prefetch: 0 });
        await a.publish('raybus.tls-test', Buffer.from('over tls'));
        await eventually(() => (got.length > 0 ? true : undefined), 10_000, 'the message');
        expect(Buffer.from(got[0]!.body).toString()).toBe('over tls');
        expect(got[0]!.headers[AUTHENTICATED_HEADER]).toBeDefined();
      } finally {
        await a.deleteQueue('raybus.tls-test').catch(() => undefined);
        await Promise.all([a.close(), b.close()]);
      }
      const plain = createTransport(nats.url, { connectAttempts: 1 });
      await expect(plain.connect()).rejects.toThrow(/certificate|TLS|tls/);
      await plain.close().catch(() => undefined);
    });
  });
});
