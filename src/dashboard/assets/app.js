// The raybus dashboard's page: plain JavaScript, no framework and nothing from a CDN. Live
// pages render the latest snapshot (server-sent events from api/events); the object list, the
// task list and an actor's page ask the JSON API when shown. Every text is set as text.
'use strict';

const TASK_STATES = ['PENDING_ARGS_AVAIL', 'PENDING_NODE_ASSIGNMENT', 'SUBMITTED_TO_WORKER', 'RUNNING', 'FINISHED', 'FAILED'];
const ACTOR_STATES = ['PENDING_CREATION', 'ALIVE', 'RESTARTING', 'DEAD'];
const PAGE = 25;

const app = { snap: null, route: ['overview'], pages: {}, timer: null, remote: {} };

// ------------------------------------------------------------------ helpers

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const badge = (s) => h('span', { class: `st st-${s}`, 'data-state': s }, s);
/** Ids end in what tells them apart (a process prefix, then a counter): long ones keep both ends. */
const short = (id) => (!id ? '' : String(id).length <= 24 ? String(id) : `${String(id).slice(0, 8)}…${String(id).slice(-8)}`);
const num = (n) => (n === undefined || n === null ? '' : Number(n).toLocaleString('en-US', { maximumFractionDigits: 4 }));
function bytes(n) {
  if (!n) return '0 B';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}
function ago(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '');
const amount = (name, v) => (name === 'memory' || name === 'object_store_memory' ? bytes(v) : num(v));
const res = (r) => Object.entries(r || {}).filter(([k]) => !k.startsWith('node:')).map(([k, v]) => `${k} ${amount(k, v)}`).join(', ');
const actorLink = (id) => h('a', { href: `#/actors/${encodeURIComponent(id)}`, class: 'mono' }, short(id));

/** A table paged in the page (rows from the snapshot). */
function table(id, columns, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted' }, empty || 'None.');
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const page = Math.min(app.pages[id] || 0, pages - 1);
  const shown = rows.slice(page * PAGE, page * PAGE + PAGE);
  const go = (p) => () => { app.pages[id] = p; render(); };
  return h('div', { 'data-table': id },
    h('table', {},
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c.label)))),
      h('tbody', {}, shown.map((row) => h('tr', { 'data-key': columns[0].key ? row[columns[0].key] : undefined }, columns.map((c) => h('td', { class: c.class }, c.render ? c.render(row) : row[c.key])))))),
    pages > 1 && h('div', { class: 'pager' },
      h('button', { onclick: go(page - 1), disabled: page === 0 }, '‹ Prev'),
      `page ${page + 1} of ${pages} (${rows.length} rows)`,
      h('button', { onclick: go(page + 1), disabled: page >= pages - 1 }, 'Next ›')));
}

function counts(states, byState, testid) {
  return h('div', { class: 'counts', 'data-testid': testid },
    states.map((s) => h('div', { class: 'count', 'data-state': s }, h('b', {}, num(byState[s] || 0)), badge(s))));
}

async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.text()).slice(0, 200)}`);
  return r.json();
}

// ------------------------------------------------------------------ pages

const views = {
  overview(s) {
    const o = s.overview;
    const n = o.nodes;
    return [
      h('h1', {}, 'Cluster'),
      h('div', { class: 'grid' },
        h('div', { class: 'card', 'data-testid': 'nodes-card' }, h('h2', {}, 'Nodes'), h('div', { class: 'big' }, num(n.alive)), h('div', { class: 'muted' }, `alive · ${n.draining} draining · ${n.dead} dead`)),
        h('div', { class: 'card' }, h('h2', {}, 'Resources (used / total)'),
          o.resources.length ? o.resources.map((r) => [h('div', {}, `${r.name}: ${amount(r.name, r.used)} / ${amount(r.name, r.total)}`), h('meter', { min: 0, max: r.total || 1, value: Math.min(r.used, r.total), title: `${r.name}: ${num(r.used)} of ${num(r.total)} used` })]) : h('p', { class: 'muted' }, 'No alive node.')),
        h('div', { class: 'card' }, h('h2', {}, 'Waiting'),
          h('div', {}, `${o.pending.filter((p) => !p.infeasible).length} pending, `, h('span', { class: o.pending.some((p) => p.infeasible) ? 'infeasible' : '' }, `${o.pending.filter((p) => p.infeasible).length} infeasible`), ` · ${o.runningLeases} task leases running`),
          o.oldestWaiting
            ? h('p', { 'data-testid': 'oldest-waiting' }, 'Oldest waiting task: ', h('b', {}, o.oldestWaiting.name), ' ', badge(o.oldestWaiting.state), ` for ${ago(o.oldestWaiting.sinceMs)}`)
            : h('p', { class: 'muted' }, 'No task is waiting.'))),
      h('div', { class: 'card' }, h('h2', {}, 'Tasks by state'), counts(TASK_STATES, o.tasksByState, 'task-counts'),
        o.dropped ? h('p', { class: 'muted' }, `${num(o.dropped)} finished tasks are no longer kept by their owners.`) : null),
      h('div', { class: 'card' }, h('h2', {}, 'Actors by state'), counts(ACTOR_STATES, o.actorsByState, 'actor-counts')),
      h('div', { class: 'card' }, h('h2', {}, 'Pending and infeasible demand'),
        table('pending', [
          { label: 'Kind', key: 'kind' },
          { label: 'What', key: 'description' },
          { label: 'Demand', render: (p) => res(p.demand) },
          { label: 'Feasible', render: (p) => (p.infeasible ? h('span', { class: 'infeasible' }, 'infeasible') : 'waiting for resources') },
        ], o.pending, 'Nothing is waiting for resources.')),
    ];
  },

  tasks(s) {
    const page = app.remote.tasks || {};
    return [
      h('h1', {}, 'Tasks by function'),
      h('div', { class: 'card' }, table('functions', [
        { label: 'Function', key: 'name', class: 'mono' },
        { label: 'Type', key: 'type' },
        ...TASK_STATES.map((st) => ({ label: st.replace(/_/g, ' ').toLowerCase(), class: 'num', render: (f) => num(f.counts[st] || 0) })),
        { label: 'Recent errors', class: 'wide', render: (f) => f.recentErrors.map((e) => h('div', { class: 'err mono' }, `${e.errorType || 'error'}: ${e.errorMessage || ''}`)) },
      ], s.functions, 'No task yet.')),
      h('h1', {}, 'All tasks'),
      h('div', { class: 'card' },
        h('div', { class: 'toolbar' }, 'State ',
          h('select', { onchange: (e) => { app.remote.tasks = { filter: e.target.value, cursors: [] }; loadTasks(); } },
            h('option', { value: '' }, 'any'), TASK_STATES.map((st) => h('option', { value: st, selected: page.filter === st }, st)))),
        remoteTable('tasks', page, [
          { label: 'Task', render: (t) => h('span', { class: 'mono' }, short(t.taskId)) },
          { label: 'Name', key: 'name', class: 'mono' },
          { label: 'State', render: (t) => badge(t.state) },
          { label: 'Attempt', key: 'attemptNumber', class: 'num' },
          { label: 'Node', render: (t) => h('span', { class: 'mono' }, short(t.nodeId)) },
          { label: 'Pid', key: 'workerPid', class: 'num' },
          { label: 'Error', render: (t) => (t.errorType ? h('span', { class: 'err' }, t.errorType) : '') },
        ], loadTasks)),
    ];
  },

  actors(s) {
    return [
      h('h1', {}, 'Actors'),
      h('div', { class: 'card' }, counts(ACTOR_STATES, s.overview.actorsByState, 'actor-counts')),
      h('div', { class: 'card' }, table('actors', [
        { label: 'Actor', key: 'actorId', render: (a) => actorLink(a.actorId) },
        { label: 'Class', key: 'className', class: 'mono' },
        { label: 'Name', key: 'name' },
        { label: 'State', render: (a) => badge(a.state) },
        { label: 'Node', render: (a) => h('span', { class: 'mono' }, short(a.nodeId)) },
        { label: 'Pid', key: 'pid', class: 'num' },
        { label: 'Restarts', key: 'numRestarts', class: 'num' },
        { label: 'Mailbox', key: 'mailbox', class: 'num' },
        { label: 'Death cause', render: (a) => (a.deathCause ? h('span', { class: 'err', 'data-testid': 'death-cause' }, `${a.deathCause.reason}: ${a.deathCause.message}`) : '') },
      ], [...s.actors].sort((a, b) => (a.state === 'DEAD') - (b.state === 'DEAD') || String(a.className).localeCompare(b.className)), 'No actor yet.')),
    ];
  },

  actor(s, id) {
    const d = app.remote.actor && app.remote.actor.id === id ? app.remote.actor.data : null;
    const row = (d && d.actor) || s.actors.find((a) => a.actorId === id);
    if (!row) return [h('h1', {}, `Actor ${short(id)}`), h('p', { class: 'muted' }, d ? 'The cluster does not know this actor.' : 'Loading…')];
    return [
      h('h1', {}, `${row.className} `, badge(row.state)),
      h('div', { class: 'card' }, h('dl', { class: 'kv' },
        [['Actor id', row.actorId], ['Name', row.name], ['Namespace', row.rayNamespace], ['Node', row.nodeId], ['Worker', row.workerId], ['Pid', row.pid], ['Restarts', row.numRestarts],
          ['Max restarts', row.maxRestarts], ['Detached', row.isDetached], ['Resources', res(row.requiredResources)],
          ['Death cause', row.deathCause ? `${row.deathCause.reason}: ${row.deathCause.message}` : undefined]]
          .filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]))),
      h('h2', {}, 'Recent calls'),
      h('div', { class: 'card' }, d ? table(`calls-${id}`, [
        { label: 'Task', render: (t) => h('span', { class: 'mono' }, short(t.taskId)) },
        { label: 'Method', key: 'name', class: 'mono' },
        { label: 'State', render: (t) => badge(t.state) },
        { label: 'Submitted', render: (t) => time(t.creationTimeMs) },
        { label: 'Ran', class: 'num', render: (t) => (t.endTimeMs && t.startTimeMs ? `${num(t.endTimeMs - t.startTimeMs)} ms` : '') },
        { label: 'Error', render: (t) => (t.errorType ? h('span', { class: 'err' }, `${t.errorType}: ${t.errorMessage || ''}`) : '') },
      ], d.calls, 'No call yet.') : h('p', { class: 'muted' }, 'Loading…')),
      h('h2', {}, 'Log'),
      d && d.log
        ? [d.log.error ? h('p', { class: 'err' }, d.log.error) : null, h('pre', { class: 'log', 'data-testid': 'actor-log' }, d.log.out || '(no output)'), d.log.err ? h('pre', { class: 'log' }, d.log.err) : null]
        : h('p', { class: 'muted' }, d ? 'The actor has no worker (yet).' : 'Loading…'),
    ];
  },

  nodes(s) {
    return [
      h('h1', {}, 'Nodes'),
      h('div', { class: 'card' }, table('nodes', [
        { label: 'Node', key: 'nodeId', class: 'mono' },
        { label: 'State', render: (n) => badge(n.state) },
        { label: 'Head', render: (n) => (n.isHeadNode ? 'yes' : '') },
        { label: 'Total', render: (n) => res(n.resourcesTotal) },
        { label: 'Available', render: (n) => res(n.resourcesAvailable) },
        { label: 'Labels', render: (n) => Object.entries(n.labels || {}).map(([k, v]) => `${k}=${v}`).join(', ') },
      ], s.nodes, 'No node.')),
      h('h1', {}, 'Workers'),
      h('div', { class: 'card' }, table('workers', [
        { label: 'Worker', key: 'workerId', class: 'mono' },
        { label: 'Type', key: 'workerType' },
        { label: 'Alive', render: (w) => badge(String(w.isAlive)) },
        { label: 'State', key: 'state' },
        { label: 'Node', render: (w) => h('span', { class: 'mono' }, short(w.nodeId)) },
        { label: 'Pid', key: 'pid', class: 'num' },
        { label: 'Actor', render: (w) => (w.actorId ? actorLink(w.actorId) : '') },
        { label: 'Exit', key: 'exitDetail' },
      ], [...s.workers].sort((a, b) => (b.isAlive - a.isAlive) || String(a.workerId).localeCompare(b.workerId)), 'No worker.')),
    ];
  },

  'placement-groups'(s) {
    return [h('h1', {}, 'Placement groups'), h('div', { class: 'card' }, table('pgs', [
      { label: 'Placement group', key: 'placementGroupId', class: 'mono' },
      { label: 'Name', key: 'name' },
      { label: 'State', render: (p) => badge(p.state) },
      { label: 'Strategy', key: 'strategy' },
      { label: 'Detached', render: (p) => (p.isDetached ? 'yes' : '') },
      { label: 'Bundles', render: (p) => p.bundles.map((b) => h('div', { class: 'mono' }, `#${b.bundleId} ${res(b.unitResources)}${b.nodeId ? ` on ${short(b.nodeId)}` : ''}`)) },
    ], s.placementGroups, 'No placement group.'))];
  },

  objects() {
    return [h('h1', {}, 'Objects'), h('div', { class: 'card' }, remoteTable('objects', app.remote.objects || {}, [
      { label: 'Object', render: (o) => h('span', { class: 'mono' }, o.objectId) },
      { label: 'Size', class: 'num', render: (o) => bytes(o.objectSize) },
      { label: 'Status', render: (o) => badge(o.taskStatus) },
      { label: 'Reference', key: 'referenceType' },
      { label: 'Held by', render: (o) => `${o.type.toLowerCase()} pid ${o.pid}${o.owned ? ' (owner)' : ' (borrower)'}` },
      { label: 'Node', render: (o) => h('span', { class: 'mono' }, short(o.nodeId)) },
    ], loadObjects))];
  },

  transport(s) {
    const t = s.transport;
    return [
      h('h1', {}, `Transport: ${s.transportKind}`),
      h('div', { class: 'grid' },
        h('div', { class: 'card' }, h('h2', {}, 'Messages'), h('div', {}, `sent ${num(t.traffic.sent)} (${bytes(t.traffic.sentBytes)})`), h('div', {}, `received ${num(t.traffic.received)} (${bytes(t.traffic.receivedBytes)})`), h('div', { class: 'muted' }, `from ${t.processes} processes that answered`)),
        h('div', { class: 'card' }, h('h2', {}, 'Refused'), Object.keys(t.refused).length ? Object.entries(t.refused).map(([k, v]) => h('div', { class: 'err' }, `${k}: ${num(v)}`)) : h('p', { class: 'muted' }, 'Nothing refused.'))),
      h('div', { class: 'card' }, h('h2', {}, 'Queues'),
        t.uninspectable ? h('p', { class: 'muted' }, 'This transport cannot tell how full its queues are.') : table('queues', [
          { label: 'Queue', key: 'name', class: 'mono' },
          { label: 'Kind', key: 'kind' },
          { label: 'Ready', key: 'messages', class: 'num' },
          { label: 'Consumers', key: 'consumers', class: 'num' },
          { label: 'Unacked', key: 'unacked', class: 'num' },
          { label: 'Redelivered', key: 'redelivered', class: 'num' },
        ], [...t.queues].sort((a, b) => b.messages - a.messages || (b.unacked || 0) - (a.unacked || 0)), 'No queue.')),
    ];
  },
};

// ------------------------------------------------------------------ pages asked of the API

/** A table paged by the server (cursor pages). */
function remoteTable(id, page, columns, load) {
  if (!page.data) {
    if (!page.loading) setTimeout(load);
    return h('p', { class: 'muted' }, page.error || 'Loading…');
  }
  const cursors = page.cursors || [];
  return h('div', { 'data-table': id },
    page.data.items.length ? h('table', {}, h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c.label)))),
      h('tbody', {}, page.data.items.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.render ? c.render(row) : row[c.key])))))) : h('p', { class: 'muted' }, 'None.'),
    h('div', { class: 'pager' },
      h('button', { onclick: () => { cursors.pop(); load(); }, disabled: !cursors.length }, '‹ Prev'),
      `${page.data.items.length} of ${num(page.data.total)}`,
      h('button', { onclick: () => { cursors.push(page.data.nextCursor); load(); }, disabled: !page.data.nextCursor }, 'Next ›'),
      h('button', { onclick: load }, 'Refresh')));
}

async function loadPaged(kind, key, extra) {
  const page = (app.remote[key] ||= { cursors: [] });
  page.loading = true;
  const q = new URLSearchParams({ limit: String(PAGE), detail: '1' });
  const cursor = page.cursors[page.cursors.length - 1];
  if (cursor) q.set('cursor', cursor);
  for (const f of extra || []) q.append('filter', f);
  try {
    page.data = await api(`api/list/${kind}?${q}`);
    page.error = undefined;
  } catch (e) {
    page.error = e.message;
  }
  page.loading = false;
  render();
}
const loadTasks = () => loadPaged('tasks', 'tasks', app.remote.tasks && app.remote.tasks.filter ? [`state=${app.remote.tasks.filter}`] : []);
const loadObjects = () => loadPaged('objects', 'objects');

async function loadActor(id) {
  try {
    const data = await api(`api/actors/${encodeURIComponent(id)}`);
    if (app.route[0] === 'actors' && app.route[1] === id) app.remote.actor = { id, data };
  } catch (e) {
    app.remote.actor = { id, data: { actor: null, calls: [], log: { out: '', err: '', error: e.message } } };
  }
  render();
}

// ------------------------------------------------------------------ routing and live updates

function route() {
  const parts = (location.hash.replace(/^#\/?/, '') || 'overview').split('/').map(decodeURIComponent);
  app.route = parts;
  clearInterval(app.timer);
  if (parts[0] === 'actors' && parts[1]) {
    loadActor(parts[1]);
    app.timer = setInterval(() => loadActor(parts[1]), 3000);
  }
  if (parts[0] === 'tasks') app.remote.tasks = { ...(app.remote.tasks || {}), data: undefined, cursors: [] };
  if (parts[0] === 'objects') app.remote.objects = { cursors: [] };
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.route === parts[0]);
  render();
}

function render() {
  const s = app.snap;
  if (!s) return;
  document.getElementById('where').textContent = `${s.address} · ${s.transportKind}`;
  document.getElementById('updated').textContent = `updated ${time(s.at)}`;
  const errors = document.getElementById('errors');
  errors.hidden = s.errors.length === 0;
  errors.textContent = s.errors.length ? `Some of the cluster did not answer: ${s.errors.join('; ')}` : '';
  const [page, id] = app.route;
  const view = page === 'actors' && id ? views.actor(s, id) : (views[page] || views.overview)(s);
  const main = document.getElementById('main');
  const y = window.scrollY;
  main.replaceChildren(...[view].flat(Infinity).filter(Boolean));
  main.dataset.page = page;
  window.scrollTo(0, y);
}

function connect() {
  const dot = document.getElementById('conn');
  const events = new EventSource('api/events');
  events.addEventListener('snapshot', (e) => {
    app.snap = JSON.parse(e.data);
    dot.className = 'dot on';
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
    render();
  });
  events.onerror = () => { dot.className = 'dot off'; };
}

window.addEventListener('hashchange', route);
route();
connect();
