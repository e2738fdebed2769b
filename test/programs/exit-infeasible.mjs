// A task no node could ever run (infeasible: it waits, with a warning) does not keep a script
// alive by itself; a `get` waiting for it does, until its timeout. Embedded, or on a cluster when
// RAYBUS_ADDRESS is set.
import ray from 'raybus';

await ray.init();
const never = ray.remote({ resources: { unobtainium: 1 } })(() => 'never');
const pending = never.remote();
never.remote(); // not even kept
const fine = ray.remote(() => 'fine');
console.log('result', await ray.get(fine.remote()));
const waited = await ray.get(pending, { timeoutMs: 1500 }).catch((err) => err.name);
console.log('waited', waited);
console.log('end of script');
