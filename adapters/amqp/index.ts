/**
 * raybus's AMQP 0-9-1 (RabbitMQ) transport. See README.md in this folder for the topology.
 */
import type { Transport } from '../../src/transport/transport';
import { AmqpTransport } from './amqp-transport';
import type { AmqpTransportOptions } from './options';

/**
 * Build a Transport on the RabbitMQ broker at `url` (`amqp://user:pass@host:5672/vhost`, or
 * `amqps://`). Nothing connects until `connect()`. Invalid options throw synchronously.
 *
 * @example
 * const transport = createAmqpTransport('amqp://guest:guest@127.0.0.1:5672', { heartbeatSeconds: 5 });
 * await transport.connect();
 * await transport.assertQueue('raybus.actor.42');
 * await transport.publish('raybus.actor.42', new Uint8Array([1, 2, 3]), { headers: { kind: 'call' } });
 * await transport.close();
 */
export function createAmqpTransport(url: string, options?: AmqpTransportOptions): Transport {
  if (typeof url !== 'string' || url.length === 0) throw new TypeError('raybus amqp: url must be a non-empty string');
  return new AmqpTransport(url, options);
}

export type { AmqpTransportOptions } from './options';
export { AmqpTransportError, type AmqpTransportErrorCode } from './errors';
export { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, DEATH_QUEUE_HEADER, DEATH_REASON_HEADER, EVENTS_EXCHANGE } from './topology';
