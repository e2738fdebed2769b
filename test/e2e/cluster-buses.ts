/**
 * The message buses the cluster end-to-end suites run on (cluster-suite.ts,
 * generators-suite.ts, big-values-suite.ts): each suite is written once against a `ClusterBus`
 * and run per bus by a thin test file (amqp-cluster.test.ts, nats-cluster.test.ts, ...). Every
 * bus is a server of the suite's own — a private RabbitMQ node or a private nats-server — so
 * restarting it never touches the machine's shared brokers, and what a cluster leaves on it
 * (streams, queues, lease buckets) goes with it.
 */
import { randomBytes } from 'node:crypto';
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
    return { url: r.url, restart: () => r.restart(), stop: () => r.stop() };
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
    return { url: n.url, restart: () => n.restart(), stop: () => n.stop() };
  },
  nowhere: 'nats://127.0.0.1:1',
  refusal: /Authorization Violation/,
  expectOutageWarnings: () => void expectWarnings(/^raybus nats: /),
};

/** Record the statuses a transport goes through (an outage shows as 'reconnecting'). */
export function statusLog(t: Transport): string[] {
  const seen: string[] = [];
  t.status$.subscribe((s) => seen.push(s));
  return seen;
}
