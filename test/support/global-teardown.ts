/**
 * jest global teardown: deletes the vhost of this run (made by global-setup.ts) and any scratch
 * vhost a test left behind (`<run vhost>-<suffix>`), with all their queues and connections, and
 * the application the user-program suites installed (test/e2e/user-programs/app.ts).
 */
import { deleteVhost, rabbitmqctl } from '../conformance/amqp-broker';
import { removeUserApp } from '../e2e/user-programs/app';

export default async function globalTeardown(): Promise<void> {
  if (process.env.RAYBUS_TEST_RUN_ID) removeUserApp(process.env.RAYBUS_TEST_RUN_ID);
  const vhost = process.env.RAYBUS_TEST_AMQP_VHOST;
  if (!vhost) return;
  const vhosts = (await rabbitmqctl(['list_vhosts', '--no-table-headers', '-q', 'name'])).split('\n').map((l) => l.trim());
  const ours = vhosts.filter((v) => v === vhost || v.startsWith(`${vhost}-`));
  for (const v of ours) await deleteVhost(v);
}
