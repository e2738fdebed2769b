/**
 * A key is the default on a network: a process whose bus is not on this machine refuses to
 * start without a cluster key unless told `insecure` (then it warns at every start); on this
 * machine it starts, with a note that nothing is authenticated.
 */
import { checkClusterSecurity, isLoopbackAddress } from '../../../src/runtimes/cluster-security';
import { openClusterTransport } from '../../../src/runtimes/open-transport';
import { RaySystemError } from '../../../src/errors/ray-errors';

test.each([
  ['amqp://guest:guest@127.0.0.1:5672', true],
  ['amqp://guest:guest@127.8.9.10:5672/vh?cluster=x', true],
  ['amqp://localhost', true],
  ['amqps://LOCALHOST:5671', true],
  ['nats://[::1]:4222', true],
  ['amqp://guest:guest@10.0.0.5:5672', false],
  ['amqp://rabbit.internal:5672', false],
  ['amqp://127.0.0.1.evil.example:5672', false],
  ['amqp://localhost.evil.example', false],
  ['nats://[::2]:4222', false],
  ['not a url', false],
])('%s is on this machine: %s', (address, loopback) => {
  expect(isLoopbackAddress(address)).toBe(loopback);
});

describe('checkClusterSecurity', () => {
  const remote = 'amqp://user:secret@rabbit.example:5672';

  test('a network bus without a key: refused, naming the ways out, without the password', () => {
    let err: unknown;
    try {
      checkClusterSecurity(remote, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RaySystemError);
    expect((err as Error).message).toMatch(/refusing to connect to amqp:\/\/user:\*\*\*@rabbit\.example:5672 without a cluster key/);
    expect((err as Error).message).toMatch(/raybus keygen/);
    expect((err as Error).message).toMatch(/insecure: true \(--insecure\)/);
    expect((err as Error).message).not.toContain('secret');
  });

  test('insecure: allowed, with a warning', () => {
    expect(checkClusterSecurity(remote, { insecure: true })).toMatch(/WARNING: insecure: running without a cluster key/);
  });

  test('with a key: allowed, silently; encrypt needs a key', () => {
    expect(checkClusterSecurity(remote, { clusterKey: 'k' })).toBeUndefined();
    expect(checkClusterSecurity(remote, { clusterKey: 'k', encrypt: true })).toBeUndefined();
    expect(() => checkClusterSecurity('amqp://127.0.0.1', { encrypt: true })).toThrow(/encrypt needs a cluster key/);
  });

  test('on this machine without a key: allowed, with a note', () => {
    expect(checkClusterSecurity('amqp://127.0.0.1:5672', {})).toMatch(/no cluster key: messages .* are not authenticated/);
  });

  test('openClusterTransport applies it before anything connects', () => {
    expect(() => openClusterTransport(remote)).toThrow(RaySystemError);
    expect(() => openClusterTransport(remote, { insecure: true })).not.toThrow();
    expect(() => openClusterTransport(remote, { clusterKey: 'k' })).not.toThrow();
  });
});
