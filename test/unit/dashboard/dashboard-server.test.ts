/**
 * The dashboard's HTTP server: it serves the page shipped beside it, and bound beyond loopback
 * it answers only requests carrying the token (or the cluster key): 401 otherwise. A browser
 * gives the token once (`?token=`) and is then known by a cookie.
 */
import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { startDashboard, type Dashboard } from '../../../src/dashboard/dashboard-server';

async function transport() {
  const t = new InMemoryBus().connect();
  await t.connect();
  return t;
}

const open: Dashboard[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});

async function start(options: Partial<Parameters<typeof startDashboard>[0]>): Promise<Dashboard> {
  const d = await startDashboard({ transport: await transport(), address: 'embedded', port: 0, ...options });
  open.push(d);
  return d;
}

test('serves its page from the package (no CDN): HTML, script and styles of its own origin', async () => {
  const d = await start({});
  expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(d.requiresToken).toBe(false);
  const html = await fetch(`${d.url}/`);
  expect(html.status).toBe(200);
  expect(html.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  const text = await html.text();
  expect(text).toContain('<script src="app.js"></script>');
  expect(text).not.toMatch(/https?:\/\//);
  expect((await fetch(`${d.url}/app.js`)).headers.get('content-type')).toMatch(/javascript/);
  expect(await (await fetch(`${d.url}/app.js`)).text()).not.toMatch(/https?:\/\/(?!\S*example)/);
  expect((await fetch(`${d.url}/style.css`)).status).toBe(200);
  expect((await fetch(`${d.url}/../package.json`)).status).toBe(404);
  expect((await fetch(`${d.url}/`, { method: 'POST' })).status).toBe(405);
});

test('with a token: 401 without it or with another; Bearer works; ?token= once sets a cookie', async () => {
  const d = await start({ token: 'sekrit-token' });
  expect(d.requiresToken).toBe(true);
  const none = await fetch(`${d.url}/`);
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
  expect((await fetch(`${d.url}/metrics`)).status).toBe(401);
  expect((await fetch(`${d.url}/`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
  expect((await fetch(`${d.url}/`, { headers: { Authorization: 'Bearer sekrit-token' } })).status).toBe(200);
  const first = await fetch(`${d.url}/?token=sekrit-token`);
  expect(first.status).toBe(200);
  const cookie = first.headers.get('set-cookie')!;
  expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
  expect((await fetch(`${d.url}/app.js`, { headers: { Cookie: cookie.split(';')[0]! } })).status).toBe(200);
  expect((await fetch(`${d.url}/app.js`, { headers: { Cookie: 'raybus_dashboard_token=nope' } })).status).toBe(401);
});

test('beyond loopback: refuses to start with neither token nor key; the cluster key serves as the token', async () => {
  await expect(start({ host: '0.0.0.0' })).rejects.toThrow(/bound to 0\.0\.0\.0, every request must carry a token/);
  const d = await start({ host: '0.0.0.0', clusterKey: 'cluster-key-1' });
  expect(d.requiresToken).toBe(true);
  const local = d.url.replace('0.0.0.0', '127.0.0.1');
  expect((await fetch(`${local}/`)).status).toBe(401);
  expect((await fetch(`${local}/`, { headers: { Authorization: 'Bearer cluster-key-1' } })).status).toBe(200);
});

test('a port in use is a clear error naming it', async () => {
  const d = await start({});
  await expect(start({ port: d.port })).rejects.toThrow(new RegExp(`port ${d.port} on 127.0.0.1 is in use`));
});
