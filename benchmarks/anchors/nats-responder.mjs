// Server side of the raw NATS request/reply anchor, in its own process (as a raybus node
// would be): a core NATS subscription that answers every request with its body. Stops when
// its parent disconnects.
import { connect } from '@nats-io/transport-node';

const [url, subject] = process.argv.slice(2);
const nc = await connect({ servers: url, noEcho: true });
nc.subscribe(subject, { callback: (_err, msg) => msg.respond(msg.data) });
await nc.flush();
process.send('ready');
process.on('disconnect', () => {
  nc.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
