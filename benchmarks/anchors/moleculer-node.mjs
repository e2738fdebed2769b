// Server side of a Moleculer anchor, in its own process: a ServiceBroker on the AMQP or NATS
// transporter (by the address) with one action that answers at once. Stops when its parent disconnects.
import { ServiceBroker } from 'moleculer';
import { moleculerOptions } from './moleculer-options.mjs';

const [url, namespace] = process.argv.slice(2);
const broker = new ServiceBroker(moleculerOptions(url, namespace, `bench-server-${process.pid}`));
broker.createService({ name: 'bench', actions: { echo: (ctx) => ctx.params.x } });
await broker.start();
process.send('ready');
process.on('disconnect', () => {
  broker.stop().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
});
