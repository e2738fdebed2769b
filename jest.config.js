/** Unit and conformance tests run from source; e2e tests drive the built package (`raybus`
 * resolves to dist/, built by `pretest`), the way a user meets it.
 *
 * The global setup gives the run a RabbitMQ vhost of its own (deleted by the global teardown)
 * and says once which broker suites cannot run and why; the setup file keeps raybus warnings a
 * test declared as expected out of the output (test/support/expected-warnings.ts). */
module.exports = {
  testEnvironment: 'node',
  // raybus keeps a few process-wide values on globalThis (util/process-global.ts), written for
  // as long as a transport lives. Jest 30's default "soft" cleanup turns such properties into
  // accessors whose setter calls itself once the file ends (a stack overflow in the next file).
  testEnvironmentOptions: { globalsCleanup: 'off' },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }] },
  moduleNameMapper: {
    '^raybus$': '<rootDir>/dist/cjs/src/index.js',
    '^raybus/testing$': '<rootDir>/dist/cjs/src/testing/index.js',
    '^raybus/amqp$': '<rootDir>/dist/cjs/adapters/amqp/index.js',
    '^raybus/nats$': '<rootDir>/dist/cjs/adapters/nats/index.js',
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/expected-warnings.ts'],
  testTimeout: 30000,
  maxWorkers: process.env.CI ? 1 : 2,
  // Files run in a worker process that is replaced once its heap passes this after a file,
  // never in jest's own process: by the middle of a full run an in-band process held ~700 MB,
  // and the tests that wait for the collector (object-store, actor-refs) ran slowly there and
  // once saw no finalization at all.
  workerIdleMemoryLimit: '512MB',
};
