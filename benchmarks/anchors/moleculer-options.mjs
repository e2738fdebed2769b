// Moleculer broker options for the anchor, tuned as the amqplib anchor is: the AMQP
// transporter passes `socketOptions` to amqplib.connect (so noDelay: true turns Nagle off)
// and sets the channel prefetch from `prefetch` (node_modules/moleculer/src/transporters/amqp.js).

/** Options of a ServiceBroker on the AMQP transporter at `url`, in its own namespace. */
export function moleculerOptions(url, namespace, nodeID) {
  return {
    namespace,
    nodeID,
    logger: false,
    requestTimeout: 30_000,
    transporter: {
      type: 'AMQP',
      options: { url, prefetch: 1000, socketOptions: { noDelay: true }, autoDeleteQueues: 60_000 },
    },
  };
}
