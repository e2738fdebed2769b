import { InMemoryBus } from '../../../src/transport/in-memory-transport';
import { createTransport, isTransportAddress, registeredSchemes, registerTransport } from '../../../src/transport/transport-registry';
import type { Transport } from '../../../src/transport/transport';

describe('transport registry', () => {
  const bus = new InMemoryBus();

  it('serves a registered scheme, wrapped for the cluster the address names', async () => {
    const made: Array<{ address: string; name?: string }> = [];
    registerTransport('testbus', (address, options) => {
      made.push({ address, ...(options.connectionName ? { name: options.connectionName } : {}) });
      return bus.connect();
    });
    expect(registeredSchemes()).toEqual(expect.arrayContaining(['amqp', 'amqps', 'memory', 'nats', 'testbus']));
    expect(isTransportAddress('testbus://somewhere')).toBe(true);
    const t = createTransport('testbus://somewhere/?cluster=c1', { connectionName: 'unit' });
    expect(made).toEqual([{ address: 'testbus://somewhere/', name: 'unit' }]);
    await t.connect();
    await t.assertQueue('raybus.actor.x');
    // The cluster's prefix is applied underneath; the caller keeps its own names.
    const other = bus.connect();
    await other.connect();
    const seen: string[] = [];
    await other.consume('c1:raybus.actor.x', (d) => {
      seen.push(Buffer.from(d.body).toString());
      d.ack();
    }, { prefetch: 0 });
    await t.publish('raybus.actor.x', Buffer.from('hi'));
    expect(seen).toEqual(['hi']);
    await t.close();
    await other.close();
  });

  it('refuses unknown schemes with the list of registered ones, and bad registrations at once', () => {
    expect(() => createTransport('nosuch://host')).toThrow(/no transport is registered for 'nosuch:\/\/'.*registered: amqp:\/\/, amqps:\/\/, memory:\/\/, nats:\/\//);
    expect(() => createTransport('not a url')).toThrow(/is not a URL/);
    expect(() => registerTransport('Bad Scheme', () => ({}) as Transport)).toThrow(/lowercase URL scheme/);
    expect(() => registerTransport('memory', () => ({}) as Transport)).toThrow(/raybus's own/);
    expect(() => registerTransport('ok', 'nope' as never)).toThrow(/factory must be a function/);
  });

  it('hides credentials in errors', () => {
    expect(() => createTransport('nosuch://user:secret@host')).toThrow(/nosuch:\/\/user:\*\*\*@host/);
    expect(() => createTransport('nosuch://user:secret@host')).not.toThrow(/secret/);
  });

  it('names the package to install when a built-in adapter’s peer dependency is missing', () => {
    jest.isolateModules(() => {
      jest.doMock('raybus/amqp', () => {
        const err = Object.assign(new Error("Cannot find module 'amqplib'\nRequire stack: ..."), { code: 'MODULE_NOT_FOUND' });
        throw err;
      });
      const { createTransport: create } = require('../../../src/transport/transport-registry') as typeof import('../../../src/transport/transport-registry');
      expect(() => create('amqps://broker.example:5671')).toThrow(/amqps:\/\/ addresses need the amqplib package, which is not installed: npm install amqplib/);
    });
  });
});
