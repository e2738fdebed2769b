/**
 * The message buses the cluster end-to-end suites run on (cluster-suite.ts,
 * generators-suite.ts, big-values-suite.ts): each suite is written once against a `ClusterBus`
 * and run per bus by a thin test file (amqp-cluster.test.ts, nats-cluster.test.ts, ...). Every
 * bus is a server of the suite's own — a private RabbitMQ node or a private nats-server — so
 * restarting it never touches the machine's shared brokers, and what a cluster leaves on it
 * (streams, queues, lease buckets) goes with it.
 */
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Transport } from '../../src/transport/transport';
import { describeWithPrivateRabbitMQ, startPrivateRabbitMQ } from '../support/private-rabbitmq';
import { describeWithPrivateNats, startPrivateNats } from '../support/private-nats';
import { expectWarnings } from '../support/expected-warnings';

/** A running server of a suite's own. */
export interface BusServer {
  /** Its address (no cluster name). */
  readonly url: string;
  /** Stop it and start it again on the same data: every connection drops, durable state survives. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** The queues (RabbitMQ) or streams (NATS) on the server whose names carry the cluster name `cluster`. */
  queuesOf(cluster: string): Promise<string[]>;
}

/** A bus the cluster suites run on. */
export interface ClusterBus {
  /** For titles: `RabbitMQ`, `NATS`. */
  readonly name: string;
  /** `describe` where such a server can be started here (skipped, or failing with CI=true, elsewhere). */
  describe(title: string, body: () => void): void;
  start(): Promise<BusServer>;
  /** An address where nothing listens, of this bus's scheme. */
  readonly nowhere: string;
  /** The server's own word for a wrong password, which the error a driver gets must carry. */
  readonly refusal: RegExp;
  /** Declare the warnings a bus outage makes raybus print in this process (so they stay quiet). */
  expectOutageWarnings(): void;
}

export const RABBITMQ: ClusterBus = {
  name: 'RabbitMQ',
  describe: describeWithPrivateRabbitMQ,
  start: async () => {
    const r = await startPrivateRabbitMQ();
    return {
      url: r.url,
      restart: () => r.restart(),
      stop: () => r.stop(),
      queuesOf: async (cluster) =>
        (await r.ctl(['list_queues', '--quiet', '--no-table-headers', 'name']))
          .split('\n')
          .map((l) => l.trim())
          .filter((q) => q.startsWith(`${cluster}:`)),
    };
  },
  nowhere: 'amqp://guest:guest@127.0.0.1:1/',
  refusal: /ACCESS.REFUSED/,
  expectOutageWarnings: () => void expectWarnings(/^raybus amqp: connection lost/),
};

export const NATS: ClusterBus = {
  name: 'NATS',
  describe: describeWithPrivateNats,
  start: async () => {
    // With a user and password, as a deployed server has: the cluster suite checks both.
    const n = await startPrivateNats({ auth: { user: 'raybus', pass: randomBytes(9).toString('base64url') } });
    return { url: n.url, restart: () => n.restart(), stop: () => n.stop(), queuesOf: (cluster) => natsStreamsOf(n.url, cluster) };
  },
  nowhere: 'nats://127.0.0.1:1',
  refusal: /Authorization Violation/,
  expectOutageWarnings: () => void expectWarnings(/^raybus nats: /),
};

/** The streams of the NATS server at `url` (user and password in it) whose names carry `cluster`. */
async function natsStreamsOf(url: string, cluster: string): Promise<string[]> {
  const u = new URL(url);
  const nc = await connect({ servers: `${u.hostname}:${u.port}`, user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) });
  try {
    const names: string[] = [];
    for await (const info of (await jetstreamManager(nc)).streams.list()) if (info.config.name.includes(cluster)) names.push(info.config.name);
    return names;
  } finally {
    await nc.close();
  }
}

/** Record the statuses a transport goes through (an outage shows as 'reconnecting'). */
export function statusLog(t: Transport): string[] {
  const seen: string[] = [];
  t.status$.subscribe((s) => seen.push(s));
  return seen;
}
