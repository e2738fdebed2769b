/**
 * jest global teardown: deletes the vhost of this run (made by global-setup.ts) and any scratch
 * vhost a test left behind (`<run vhost>-<suffix>`), with all their queues and connections.
 */
import { deleteVhost, rabbitmqctl } from '../conformance/amqp-broker';

export default async function globalTeardown(): Promise<void> {
  const vhost = process.env.RAYBUS_TEST_AMQP_VHOST;
  if (!vhost) return;
  const vhosts = (await rabbitmqctl(['list_vhosts', '--no-table-headers', '-q', 'name'])).split('\n').map((l) => l.trim());
  const ours = vhosts.filter((v) => v === vhost || v.startsWith(`${vhost}-`));
  for (const v of ours) await deleteVhost(v);
}
