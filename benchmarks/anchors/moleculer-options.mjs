// Moleculer broker options for the anchors, tuned as the raw-client anchors are. On RabbitMQ the
// AMQP transporter passes `socketOptions` to amqplib.connect (so noDelay: true turns Nagle off)
// and sets the channel prefetch from `prefetch` (node_modules/moleculer/src/transporters/amqp.js).
// On NATS the NATS transporter hands `url` to the `nats` client (v2), which writes with Nagle off
// already and flushes once per turn (node_modules/moleculer/src/transporters/nats.js).

/** Options of a ServiceBroker on the transporter for `url` (amqp:// or nats://), in its own namespace. */
export function moleculerOptions(url, namespace, nodeID) {
  const nats = url.startsWith('nats:');
  return {
    namespace,
    nodeID,
    logger: false,
    requestTimeout: 30_000,
    transporter: nats
      ? { type: 'NATS', options: { url } }
      : { type: 'AMQP', options: { url, prefetch: 1000, socketOptions: { noDelay: true }, autoDeleteQueues: 60_000 } },
  };
}
