/**
 * The NATS publisher's answers to `503 no responders` around a reconnect, on a fake connection:
 * a message the client flushed before the queue's owner was back is sent again, not dropped.
 */
import type { Msg } from '@nats-io/transport-node';
import type { ConnectionManager, Link } from '../../../../adapters/nats/connection';
import { resolveNatsOptions } from '../../../../adapters/nats/options';
import { Publisher } from '../../../../adapters/nats/publisher';

interface Written {
  readonly subject: string;
  readonly reply: string;
}

/** A connection that records what is written and lets the test answer each write. */
function fakeLink(): { link: Link; written: Written[]; answer(w: Written, code?: number): void } {
  const written: Written[] = [];
  let onReply: ((err: unknown, msg: Msg) => void) | undefined;
  const nc = {
    subscribe: (_subject: string, opts: { callback: (err: unknown, msg: Msg) => void }) => {
      onReply = opts.callback;
      return { isClosed: () => false, unsubscribe: () => undefined };
    },
    publish: (subject: string, _body: Uint8Array, opts: { reply: string }) => void written.push({ subject, reply: opts.reply }),
  };
  const answer = (w: Written, code?: number): void =>
    onReply!(null, { subject: w.reply, data: new Uint8Array(0), headers: code === undefined ? undefined : { code } } as unknown as Msg);
  return { link: { nc, jsm: {}, epoch: 0 } as unknown as Link, written, answer };
}

function publisherOn(link: Link): Publisher {
  const manager = {
    options: resolveNatsOptions({ onWarning: () => undefined, publishTimeoutMs: 60_000 }),
    maxPayload: 1 << 20,
    current: link,
    unusableReason: () => undefined,
  } as unknown as ConnectionManager;
  return new Publisher(manager);
}

describe('NATS publisher around a reconnect', () => {
  test('a 503 for a message flushed while the connection is being restored: sent again on resume, then acknowledged', async () => {
    const { link, written, answer } = fakeLink();
    const publisher = publisherOn(link);
    let settled: string | undefined;
    const p = publisher.publish('raybus.reply.d1', 'raybus.q.d1', new Uint8Array([1]), undefined).then(
      () => (settled = 'ok'),
      (err: Error) => (settled = err.message),
    );
    expect(written).toHaveLength(1);
    // The connection drops; the client flushes its buffer on reconnect before the owner is back.
    publisher.suspend();
    answer(written[0]!, 503);
    await Promise.resolve();
    expect(settled).toBeUndefined();
    await publisher.resume(link);
    expect(written).toHaveLength(2);
    answer(written[1]!);
    await p;
    expect(settled).toBe('ok');
    publisher.failAll(new Error('closed'));
  });

  test('a 503 on a connection never lost means no such queue', async () => {
    const { link, written, answer } = fakeLink();
    const publisher = publisherOn(link);
    const p = publisher.publish('raybus.reply.gone', 'raybus.q.gone', new Uint8Array([1]), undefined);
    answer(written[0]!, 503);
    await expect(p).rejects.toMatchObject({ code: 'NO_SUCH_QUEUE' });
  });
});
