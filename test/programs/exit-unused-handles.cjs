// Actor handles never used: one from getIfExists, one whose constructor argument failed.
// shutdown() must not turn their failures into an unhandled rejection.
const ray = require('raybus');

class Named {
  hi() {
    return 'hi';
  }
}
const NamedActor = ray.remote(Named);
const fails = ray.remote({ maxRetries: 0 })(() => {
  throw new Error('constructor argument failed on purpose');
});

async function main() {
  await ray.init();
  process.on('unhandledRejection', (err) => {
    console.error('UNHANDLED', err);
    process.exit(3);
  });
  NamedActor.options({ name: `unused-${process.pid}`, getIfExists: true, numCpus: 0 }).remote();
  const broken = NamedActor.options({ numCpus: 0 }).remote(fails.remote());
  // The argument's failure is settled before shutdown.
  await ray.wait([broken.hi.remote()], { timeoutMs: 20_000 });
  NamedActor.options({ numCpus: 0 }).remote(fails.remote());
  await new Promise((resolve) => setTimeout(resolve, 300));
  await ray.shutdown();
  console.log('shutdown ok');
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
