// `.remote()` that throws at once (an argument that cannot be sent) submits nothing: the
// calls behind it still run, and the script still ends by itself (no shutdown()).
const ray = require('raybus');

const echo = ray.remote((x) => x);
class Box {
  put(x) {
    return x;
  }
}
const BoxActor = ray.remote(Box);

function mustThrow(what, fn) {
  try {
    fn();
  } catch (err) {
    console.log(`${what} threw: ${String(err.message).split('\n')[0]}`);
    return;
  }
  console.error(`${what} did not throw`);
  process.exit(2);
}

async function main() {
  await ray.init();
  mustThrow('a task with a function argument', () => echo.remote(() => 1));
  const box = BoxActor.options({ numCpus: 0 }).remote();
  mustThrow('an actor call with a function argument', () => box.put.remote(() => 1));
  // The actor's next call is not held behind the one that never existed.
  console.log('after the throws:', await ray.get(box.put.remote(7), { timeoutMs: 30_000 }), await ray.get(echo.remote(8), { timeoutMs: 30_000 }));
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
