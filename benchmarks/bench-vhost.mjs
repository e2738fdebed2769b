// The bench's own RabbitMQ vhost on a shared broker: a test cluster deletes its queues when it
// shuts down, but not when the bench is cut short (a row's timeout, the watchdog), and the
// exchanges every raybus cluster on a vhost shares stay; so the bench makes a vhost of its own
// with rabbitmqctl and deletes it, with everything in it, when it ends (also at the watchdog). RAYBUS_BENCH_AMQP_URL given: used as it is. No rabbitmqctl: the URL
// as it is, with a line saying so. `RAYBUS_BENCH_RABBITMQCTL` names another command
// (e.g. `docker exec rabbitmq rabbitmqctl`).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const DEFAULT_URL = 'amqp://guest:guest@127.0.0.1:5672';

function ctl(args) {
  const [cmd, ...pre] = (process.env.RAYBUS_BENCH_RABBITMQCTL ?? 'rabbitmqctl').split(' ').filter(Boolean);
  execFileSync(cmd, [...pre, ...args], { stdio: 'ignore', timeout: 30_000 });
}

/**
 * `{ url, release() }`: the broker URL to use, and the cleanup to run when the bench ends.
 * `base`: a broker address to make the vhost on (its own vhost, if it names one, is used as it is).
 */
export function benchBroker(base) {
  const given = base === undefined ? process.env.RAYBUS_BENCH_AMQP_URL : new URL(base).pathname.length > 1 ? base : undefined;
  if (given) return { url: given, release: () => undefined };
  const root = (base ?? DEFAULT_URL).replace(/\/$/, '');
  const vhost = `raybus-bench-${Math.floor(Date.now() / 1000)}-${randomBytes(3).toString('hex')}`;
  try {
    ctl(['add_vhost', vhost]);
    ctl(['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);
  } catch (err) {
    console.log(`bench: RabbitMQ rows use ${root} as it is (could not make a vhost of their own: ${err.message.split('\n')[0]})`);
    return { url: root, release: () => undefined };
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    try {
      ctl(['delete_vhost', vhost]);
    } catch {
      console.error(`bench: could not delete the vhost ${vhost}`);
    }
  };
  process.on('exit', release);
  return { url: `${root}/${encodeURIComponent(vhost)}`, release };
}
