/**
 * jest global setup: gives this run a vhost of its own on the shared RabbitMQ and says, once,
 * which broker suites cannot run here and why.
 *
 * - Run id `<unix seconds>-<6 hex>` in `RAYBUS_TEST_RUN_ID`.
 * - When a broker answers at `RAYBUS_TEST_AMQP_URL` (default amqp://guest:guest@127.0.0.1:5672):
 *   creates the vhost `raybus-test-<run id>` with rabbitmqctl, gives the URL's user every
 *   permission there, and points `RAYBUS_TEST_AMQP_URL` at it (`RAYBUS_TEST_AMQP_VHOST` names
 *   it). Test files read these when they load; the global teardown deletes the vhost. Vhosts of
 *   earlier runs that were killed before their teardown (older than two hours, no connections)
 *   are deleted too.
 * - When no broker answers: `RAYBUS_TEST_AMQP_UNAVAILABLE` says why, for `describeWithBroker`.
 * - With `CI=true`, a broker that answers but whose vhost cannot be made fails the run:
 *   tests must not fall back to the shared `/`.
 */
import { randomBytes } from 'node:crypto';
import { AMQP_TEST_URL, amqpSkipLine, createVhost, deleteVhost, probeBroker, rabbitmqctl, redact, vhostUrl } from '../conformance/amqp-broker';
import { privateNatsProblem } from './private-nats';
import { privateRabbitMQProblem } from './private-rabbitmq';

/** Vhosts of runs: `raybus-test-<unix seconds>-<6 hex>`, optionally `-<suffix>` (scratch vhosts). */
export const RUN_VHOST = /^raybus-test-(\d{10})-[0-9a-f]{6}(?:-.+)?$/;
const STALE_AFTER_S = 2 * 3600;

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Delete run vhosts older than two hours that nobody is connected to (runs killed mid-way). */
async function sweepStaleVhosts(): Promise<void> {
  const now = Date.now() / 1000;
  const vhosts = (await rabbitmqctl(['list_vhosts', '--no-table-headers', '-q', 'name'])).split('\n').map((l) => l.trim());
  const stale = vhosts.filter((v) => {
    const m = RUN_VHOST.exec(v);
    return m !== null && now - Number(m[1]) > STALE_AFTER_S;
  });
  if (stale.length === 0) return;
  const inUse = new Set((await rabbitmqctl(['list_connections', '--no-table-headers', '-q', 'vhost'])).split('\n').map((l) => l.trim()));
  for (const v of stale) if (!inUse.has(v)) await deleteVhost(v);
}

export default async function globalSetup(): Promise<void> {
  const runId = `${Math.floor(Date.now() / 1000)}-${randomBytes(3).toString('hex')}`;
  process.env.RAYBUS_TEST_RUN_ID = runId;

  const base = AMQP_TEST_URL;
  const problem = probeBroker(base);
  if (problem !== undefined) {
    const why = `no broker at ${redact(base)} (${problem})`;
    process.env.RAYBUS_TEST_AMQP_UNAVAILABLE = why;
    say(amqpSkipLine(why));
  } else {
    const vhost = `raybus-test-${runId}`;
    try {
      await createVhost(base, vhost);
      process.env.RAYBUS_TEST_AMQP_URL = vhostUrl(base, vhost);
      process.env.RAYBUS_TEST_AMQP_VHOST = vhost;
      await sweepStaleVhosts().catch((err: Error) => say(`test setup: could not sweep stale test vhosts: ${err.message}`));
    } catch (err) {
      const why = `could not create the vhost ${vhost} of this run on ${redact(base)}: ${(err as Error).message}`;
      if (process.env.CI === 'true') throw new Error(`${why} (CI=true: tests must not fall back to the shared vhost; set RAYBUS_TEST_RABBITMQCTL)`);
      say(`RabbitMQ suites use ${redact(base)} as given: ${why} (set RAYBUS_TEST_RABBITMQCTL)`);
    }
  }

  if (process.env.CI !== 'true') {
    const rabbit = privateRabbitMQProblem();
    if (rabbit) say(`Private-RabbitMQ suites skipped: ${rabbit} (CI=true fails instead)`);
    const nats = privateNatsProblem();
    if (nats) say(`Private-NATS suites skipped: ${nats} (CI=true fails instead)`);
  }
}
