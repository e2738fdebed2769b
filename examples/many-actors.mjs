// One actor per user session: 2,000 stateful actors on one machine with
// `isolation: 'shared'` (many actors to a worker process; each keeps its own mailbox, order and
// lifecycle). Killing one leaves the others as they are.
// Runs on the embedded default, or on a cluster when RAYBUS_ADDRESS is set.
//   node examples/many-actors.mjs
import assert from 'node:assert/strict';
import ray from 'raybus';

class Session {
  constructor(user) {
    this.user = user;
    this.events = [];
  }
  record(event) {
    this.events.push(event);
    return this.events.length;
  }
  summary() {
    return { user: this.user, events: this.events.join(','), pid: process.pid };
  }
}

const SessionActor = ray.remote({ isolation: 'shared' })(Session);

await ray.init();
const started = performance.now();
const sessions = Array.from({ length: 2000 }, (_, i) => SessionActor.remote(`user-${i}`));
// Each session's calls run in the order they were made.
for (const event of ['login', 'view', 'buy']) await ray.get(sessions.map((s) => s.record.remote(event)));
const summaries = await ray.get(sessions.map((s) => s.summary.remote()));
const seconds = (performance.now() - started) / 1000;
assert.ok(summaries.every((s, i) => s.user === `user-${i}` && s.events === 'login,view,buy'));
const processes = new Set(summaries.map((s) => s.pid)).size;
console.log(`${sessions.length} session actors in ${processes} worker process(es), 4 calls each, in ${seconds.toFixed(1)} s`);

// A logout ends one session; the others go on.
await ray.kill(sessions[0]);
await assert.rejects(ray.get(sessions[0].summary.remote()), ray.ActorDiedError);
assert.equal(await ray.get(sessions[1].record.remote('logout')), 4);
await Promise.all(sessions.map((s) => ray.kill(s)));
console.log('ok');
await ray.shutdown();
