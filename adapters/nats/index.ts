/**
 * raybus's NATS JetStream transport. See README.md in this folder for the mapping.
 */
import { NatsTransport } from './nats-transport';
import type { NatsTransportOptions } from './options';

/**
 * Build a Transport on the NATS server(s) at `url` (`nats://host:4222`, or several separated
 * by commas), which must have JetStream enabled. Nothing connects until `connect()`. Invalid
 * options throw synchronously.
 *
 * @example
 * const transport = createNatsTransport('nats://127.0.0.1:4222', { namespace: 'raybus' });
 * await transport.connect();
 * await transport.assertQueue('raybus.actor.42', { durable: true });
 * await transport.publish('raybus.actor.42', new Uint8Array([1, 2, 3]), { headers: { kind: 'call' } });
 * await transport.close();
 */
export function createNatsTransport(url: string, options?: NatsTransportOptions): NatsTransport {
  if (typeof url !== 'string' || url.length === 0) throw new TypeError('raybus nats: url must be a non-empty string');
  return new NatsTransport(url, options);
}

export type { NatsTransport } from './nats-transport';
export type { NatsTransportOptions } from './options';
export type { TransportCapabilities, TransportLease } from '../../src/transport/transport';
export { NatsTransportError, type NatsTransportErrorCode } from './errors';
export { DEATH_QUEUE_HEADER, DEATH_REASON_HEADER } from './dead-letter';
export { escapeName } from './naming';
