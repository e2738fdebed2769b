/**
 * The dashboard's HTTP server (node:http, nothing else): the pages (static files shipped in the
 * package beside this module, `assets/`), a JSON API over the collector's snapshots and the
 * state API's paged lists, server-sent events for live updates, and `/metrics` for Prometheus.
 *
 * Bound to 127.0.0.1 unless told otherwise. On any other interface every request must carry the
 * token (or, without one, the cluster key): `Authorization: Bearer <token>`, or `?token=` once,
 * which sets a cookie for the page's own requests; anything else is answered 401. On loopback
 * without a token, requests must name a loopback host (a web page elsewhere cannot reach it
 * through DNS rebinding).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Transport } from '../transport/transport';
import { LIST_KINDS, type ListKind, type StateFilter } from '../protocol/state';
import { resolveListOptions } from '../observability/state-query';
import { systemClock, type Clock, type Timer } from '../util/clock';
import { logger } from '../util/logger';
import { DashboardCollector } from './collector';
import { DashboardMetrics } from './metrics';
import { isLoopbackHost, resolveDashboardOption, type DashboardOptions } from './dashboard-options';

/** What the server needs besides where to listen. */
export interface DashboardServerOptions extends DashboardOptions {
  /** A connected transport to the cluster (the dashboard does not close it). */
  readonly transport: Transport;
  /** The cluster's address as shown (credentials hidden). */
  readonly address: string;
  /** Accepted as the token when no token is given. */
  readonly clusterKey?: string;
  /** Refusals of the transport's own AuthTransport, by reason. */
  readonly refusals?: () => Record<string, number>;
  /** Time between polls while a page is open (ms). */
  readonly intervalMs?: number;
  /** The server keeps the process alive (`raybus dashboard`); false for a driver's (`init`). */
  readonly keepProcess?: boolean;
  readonly clock?: Clock;
}

/** A running dashboard. */
export interface Dashboard {
  /** `http://host:port` (without the token). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Whether requests must carry a token. */
  readonly requiresToken: boolean;
  close(): Promise<void>;
}

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};
const COOKIE = 'raybus_dashboard_token';
/** Server-sent event streams open at once. */
const MAX_STREAMS = 64;
const HEARTBEAT_MS = 15_000;
const HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
};

/** Where the assets are: beside this module, in the source tree and in dist alike. */
const ASSET_DIR = path.join(__dirname, 'assets');

/**
 * Start a dashboard on `options.transport`. Rejects when the port is taken, or when bound
 * beyond loopback with neither a token nor a cluster key.
 *
 * @example
 * const d = await startDashboard({ transport, address: 'amqp://…', port: 8265 });
 * console.log(d.url);
 */
export async function startDashboard(options: DashboardServerOptions): Promise<Dashboard> {
  const { port, host, token: given } = resolveDashboardOption({ port: options.port, host: options.host, ...(options.token !== undefined ? { token: options.token } : {}) }, "'dashboard'");
  const token = given ?? (isLoopbackHost(host) ? undefined : options.clusterKey);
  if (!isLoopbackHost(host) && token === undefined) {
    throw new Error(`raybus dashboard: bound to ${host}, every request must carry a token: give --token (init: dashboard.token) or a cluster key`);
  }
  const clock = options.clock ?? systemClock;
  const collector = new DashboardCollector({ transport: options.transport, address: options.address, clock, ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}), ...(options.refusals ? { refusals: options.refusals } : {}) });
  await collector.start();
  const metrics = new DashboardMetrics();
  const streams = new Set<ServerResponse>();
  const handler = new Handler(collector, metrics, streams, clock, token);
  const server = createServer((req, res) => void handler.handle(req, res));
  if (options.keepProcess === false) server.on('connection', (socket) => socket.unref());
  try {
    await listen(server, port, host);
  } catch (err) {
    await collector.stop();
    throw err;
  }
  if (options.keepProcess === false) server.unref();
  const bound = server.address();
  const actualPort = typeof bound === 'object' && bound ? bound.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${actualPort}`,
    port: actualPort,
    host,
    requiresToken: token !== undefined,
    close: async () => {
      for (const res of streams) res.end();
      streams.clear();
      await collector.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new Error(err.code === 'EADDRINUSE' ? `raybus dashboard: port ${port} on ${host} is in use (choose another with --port, or port 0 for any free one)` : `raybus dashboard: cannot listen on ${host}:${port}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** The routes. */
class Handler {
  private readonly tokenDigest?: Buffer;

  constructor(
    private readonly collector: DashboardCollector,
    private readonly metrics: DashboardMetrics,
    private readonly streams: Set<ServerResponse>,
    private readonly clock: Clock,
    token: string | undefined,
  ) {
    if (token !== undefined) this.tokenDigest = digest(token);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
      if (!this.authorized(req, url, res)) return;
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'raybus dashboard: only GET\n', { Allow: 'GET, HEAD' });
      const p = url.pathname;
      const asset = ASSETS[p];
      if (asset) return send(res, 200, asset.type, await readFile(path.join(ASSET_DIR, asset.file)));
      if (p === '/metrics') {
        // A scrape reads the cluster now (joining one under way), only what the metrics need.
        this.metrics.update(await this.collector.forMetrics());
        return send(res, 200, this.metrics.contentType, await this.metrics.text());
      }
      if (p === '/api/snapshot') return json(res, 200, await this.collector.snapshot(1000));
      if (p === '/api/events') return this.events(req, res);
      const list = /^\/api\/list\/([a-z-]+)$/.exec(p);
      if (list) return await this.list(list[1]!, url, res);
      const actor = /^\/api\/actors\/([0-9A-Za-z_-]{1,128})$/.exec(p);
      if (actor) return json(res, 200, await this.collector.actor(actor[1]!));
      return send(res, 404, 'text/plain', 'raybus dashboard: not found\n');
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) return json(res, 400, { error: err.message });
      logger.debug(`raybus dashboard: ${req.url} failed: ${(err as Error).stack}`);
      if (!res.headersSent) json(res, 502, { error: (err as Error).message });
      else res.end();
    }
  }

  /** Does the request carry the token (when one is needed)? Answers 401/403 itself when not. */
  private authorized(req: IncomingMessage, url: URL, res: ServerResponse): boolean {
    if (!this.tokenDigest) {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (isLoopbackHost(host)) return true;
      send(res, 403, 'text/plain', 'raybus dashboard: this dashboard answers requests for localhost only\n');
      return false;
    }
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const fromQuery = url.searchParams.get('token') ?? undefined;
    const cookie = cookies(req.headers.cookie)[COOKIE];
    for (const candidate of [bearer, fromQuery, cookie]) {
      if (candidate !== undefined && timingSafeEqual(digest(candidate), this.tokenDigest)) {
        if (candidate === fromQuery) res.setHeader('Set-Cookie', `${COOKIE}=${encodeURIComponent(candidate)}; HttpOnly; SameSite=Strict; Path=/`);
        return true;
      }
    }
    send(res, 401, 'text/plain', 'raybus dashboard: a token is required (Authorization: Bearer <token>, or open the page with ?token=<token>)\n', { 'WWW-Authenticate': 'Bearer realm="raybus"' });
    return false;
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) return send(res, 503, 'text/plain', 'raybus dashboard: too many open pages\n');
    res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write('retry: 3000\n\n');
    this.streams.add(res);
    const unsubscribe = this.collector.subscribe((s) => res.write(`event: snapshot\ndata: ${JSON.stringify(s)}\n\n`));
    const heartbeat: Timer = this.clock.setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const done = (): void => {
      unsubscribe();
      this.clock.clear(heartbeat);
      this.streams.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  }

  /** One page of a state API list: `?limit=&cursor=&detail=1&filter=column=value|column!=value`. */
  private async list(kind: string, url: URL, res: ServerResponse): Promise<void> {
    if (!(LIST_KINDS as readonly string[]).includes(kind)) return json(res, 404, { error: `no list '${kind}' (lists: ${LIST_KINDS.join(', ')})` });
    const q = url.searchParams;
    const filters: StateFilter[] = q.getAll('filter').map((f) => {
      const m = /^([A-Za-z_]+)(!=|=)(.*)$/.exec(f);
      if (!m) throw new TypeError(`filter '${f}' must be column=value or column!=value`);
      return [m[1]!, m[2] as '=' | '!=', m[3]!];
    });
    const limit = q.has('limit') ? Number(q.get('limit')) : 50;
    const options = resolveListOptions(kind as ListKind, { filters, limit, detail: q.get('detail') === '1', ...(q.get('cursor') ? { cursor: q.get('cursor') } : {}) }, 'dashboard list');
    json(res, 200, await this.collector.client.list(kind as ListKind, options));
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    try {
      out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // A cookie that is not ours, malformed: ignored.
    }
  }
  return out;
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...HEADERS, 'Content-Type': type, ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}
