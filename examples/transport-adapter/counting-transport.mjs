// A small transport adapter: it wraps another transport and counts what goes through it.
// It shows the whole contract an adapter meets (src/transport/transport.ts) — every method
// forwarded, `capabilities` and `acquireLease` passed on — and how one is registered:
//
//   import { registerCounting } from './counting-transport.mjs';
//   registerCounting();
//   await ray.init({ address: 'counting+nats://127.0.0.1:4222' });   // or counting+amqp://...
//
// `raybus start --address counting+nats://... --import ./counting-transport.mjs` runs nodes on
// it (the module registers the scheme when imported with `registerCounting()` at its end).
import { createTransport, registerTransport } from 'raybus';

/** Counters of one counting transport. */
export class Counts {
  published = 0;
  bytes = 0;
  delivered = 0;
}

/**
 * A Transport that forwards everything to `inner` and counts publishes and deliveries.
 * @param {import('raybus').Transport} inner
 */
export function countingTransport(inner, counts = new Counts()) {
  const t = {
    kind: `counting+${inner.kind}`,
    counts,
    get capabilities() {
      return inner.capabilities;
    },
    get status$() {
      return inner.status$;
    },
    connect: () => inner.connect(),
    close: () => inner.close(),
    assertQueue: (queue, options) => inner.assertQueue(queue, options),
    deleteQueue: (queue) => inner.deleteQueue(queue),
    publish(queue, body, options) {
      counts.published += 1;
      counts.bytes += body.byteLength;
      return inner.publish(queue, body, options);
    },
    consume(queue, handler, options) {
      return inner.consume(
        queue,
        (d) => {
          counts.delivered += 1;
          handler(d);
        },
        options,
      );
    },
    broadcast(topic, body) {
      counts.published += 1;
      counts.bytes += body.byteLength;
      return inner.broadcast(topic, body);
    },
    subscribe: (topic, handler) => inner.subscribe(topic, handler),
  };
  // Leases only where the inner transport has them (leader election without single active consumers).
  if (typeof inner.acquireLease === 'function') t.acquireLease = (name, ttlMs) => inner.acquireLease(name, ttlMs);
  return t;
}

/** Register `counting+<scheme>://` for the schemes given: a counting transport over `<scheme>://`. */
export function registerCounting(schemes = ['nats', 'amqp']) {
  for (const scheme of schemes) {
    registerTransport(`counting+${scheme}`, (address, options) => countingTransport(createTransport(address.slice('counting+'.length), options)));
  }
}
