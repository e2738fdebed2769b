/**
 * Every user program as a driver of a cluster on NATS: a private nats-server with JetStream and
 * a password, so nothing is left on the machine's server. See user-programs/cluster-programs.ts.
 */
import { randomBytes } from 'node:crypto';
import { describeWithPrivateNats, startPrivateNats } from '../support/private-nats';
import { describeUserProgramsOn } from './user-programs/cluster-programs';

jest.setTimeout(120_000);

describeUserProgramsOn({
  name: 'NATS',
  describe: describeWithPrivateNats,
  acquire: async () => {
    const server = await startPrivateNats({ auth: { user: 'raybus', pass: randomBytes(9).toString('base64url') } });
    return { url: server.url, release: () => server.stop() };
  },
});
