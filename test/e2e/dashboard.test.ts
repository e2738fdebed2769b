/**
 * The dashboard of the embedded default, end to end (Ray's dashboard tests,
 * python/ray/dashboard/tests/test_dashboard.py, check the same: it serves, it shows the live
 * cluster, its metrics endpoint exports): `init({ dashboard })` serves the page, and a real
 * browser (Debian's Chromium driven by playwright-core) watches it change while work runs — an
 * actor appears ALIVE, the count of finished tasks moves, a killed actor shows DEAD with its
 * cause. `/metrics` answers in Prometheus's format; the token rule holds. A screenshot is kept
 * as an artifact (its path is printed).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type * as Ray from '../../src/index';
import { waitUntil } from '../support/wait-until';

const ray: typeof Ray = require('raybus');

/** The status of a GET with these headers (node:http: fetch may not set Host). */
function statusFor(target: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(target, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

jest.setTimeout(120_000);
const T = { timeoutMs: 30_000 };
const CHROMIUM = process.env.RAYBUS_CHROMIUM ?? '/usr/bin/chromium';
/** Debian's Chromium in a container: no sandbox, no GPU, nothing fetched from the network. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') throw new Error(`the dashboard's browser test needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
const describeWithBrowser = haveChromium ? describe : describe.skip;

describeWithBrowser('the dashboard in a browser', () => {
  let url: string;
  let profile: string;
  let artifacts: string;
  let context: BrowserContext | Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    const info = await ray.init({ numCpus: 2, dashboard: { port: 0 } });
    url = info.dashboardUrl!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    profile = mkdtempSync(path.join(os.tmpdir(), 'raybus-chromium-'));
    artifacts = mkdtempSync(path.join(os.tmpdir(), 'raybus-dashboard-'));
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    const persistent = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
    context = persistent;
    page = persistent.pages()[0] ?? (await persistent.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  });

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await ray.shutdown();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** The number shown for `state` in a counts panel of the current page. */
  const shown = async (panel: string, state: string): Promise<number> => {
    const text = await page.locator(`[data-testid="${panel}"] [data-state="${state}"] b`).first().textContent({ timeout: 5000 });
    return Number((text ?? '').replace(/,/g, ''));
  };

  test('shows an actor ALIVE, task counts moving, and a killed actor DEAD with its cause', async () => {
    await page.goto(`${url}/#/overview`);
    await page.waitForSelector('[data-testid="task-counts"]', { timeout: 30_000 });
    const finishedBefore = await shown('task-counts', 'FINISHED');

    const Counter = ray.remote(
      class Counter {
        n = 0;
        add(k: number): number {
          console.log(`counter at ${this.n + k}`);
          return (this.n += k);
        }
      },
    );
    const counter = Counter.remote();
    expect(await ray.get(counter.add.remote(1), T)).toBe(1);

    await page.goto(`${url}/#/actors`);
    const row = page.locator(`tr[data-key="${counter.actorId}"]`);
    await row.locator('[data-state="ALIVE"]').waitFor({ timeout: 30_000 });

    // Work runs while the page watches: the finished count moves on the overview.
    const square = ray.remote(function square(x: number) {
      return x * x;
    });
    await page.goto(`${url}/#/overview`);
    const refs = Array.from({ length: 20 }, (_, i) => square.remote(i));
    await ray.get(refs, T);
    await waitUntil(async () => (await shown('task-counts', 'FINISHED')) >= finishedBefore + 20, 30_000);

    await page.goto(`${url}/#/tasks`);
    await page.locator('[data-table="functions"] tr', { hasText: 'square' }).waitFor({ timeout: 30_000 });
    const shot = path.join(artifacts, 'dashboard-tasks.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot (tasks page, work running): ${shot}`);

    // The actor's own page: its calls and its output.
    await page.goto(`${url}/#/actors/${counter.actorId}`);
    await page.locator('[data-testid="actor-log"]', { hasText: 'counter at 1' }).waitFor({ timeout: 30_000 });

    await ray.kill(counter);
    await page.goto(`${url}/#/actors`);
    await row.locator('[data-state="DEAD"]').waitFor({ timeout: 30_000 });
    expect(await row.locator('[data-testid="death-cause"]').textContent()).toMatch(/RAY_KILL/);
    const overview = path.join(artifacts, 'dashboard-actors.png');
    await page.screenshot({ path: overview, fullPage: true });
    console.log(`dashboard screenshot (actors page): ${overview}`);
    // The page obeys its own content security policy: nothing it does is refused.
    expect(consoleErrors).toEqual([]);
  });

  test('/metrics answers in the Prometheus text format with the cluster and the process', async () => {
    const busy = ray.remote(function busy() {
      return 1;
    });
    await ray.get([busy.remote(), busy.remote()], T);
    let text = '';
    await waitUntil(async () => {
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      text = await res.text();
      return /^raybus_tasks\{name="busy",state="FINISHED"\} 2$/m.test(text);
    }, 30_000);
    expect(text).toMatch(/^raybus_tasks\{name="busy",state="FINISHED"\} 2$/m);
    expect(text).toMatch(/^raybus_actors\{class="Counter",state="DEAD"\} 1$/m);
    expect(text).toMatch(/^raybus_resources\{name="CPU",state="total"\} 2$/m);
    expect(text).toMatch(/^# TYPE raybus_task_duration_seconds histogram$/m);
    const count = Number(/^raybus_task_duration_seconds_count (\d+)$/m.exec(text)?.[1]);
    expect(count).toBeGreaterThanOrEqual(23);
    expect(Number(/^raybus_task_duration_seconds_bucket\{le="\+Inf"\} (\d+)$/m.exec(text)?.[1])).toBe(count);
    expect(Number(/^raybus_transport_messages_total\{direction="sent"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/^raybus_queue_messages\{kind="broker"\} \d+$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    // No series per task, worker or actor.
    expect(text).not.toMatch(/task_id|worker_id|actor_id/);
  });

  test('without a token it answers requests for localhost only; the JSON API pages the state API', async () => {
    // A page elsewhere reaching it through DNS rebinding names its own host.
    expect(await statusFor(`${url}/`, { Host: 'evil.example' })).toBe(403);
    expect(await statusFor(`${url}/`, { Host: 'localhost' })).toBe(200);
    const page1 = (await (await fetch(`${url}/api/list/tasks?limit=5&filter=name=square`)).json()) as Ray.ListResult<Ray.TaskItem>;
    expect(page1.items).toHaveLength(5);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const bad = await fetch(`${url}/api/list/tasks?filter=colour=red`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/unknown filter column 'colour'/);
    expect((await fetch(`${url}/nothing-here`)).status).toBe(404);
  });
});
