/**
 * AMQP-only behaviour: recovery after the broker drops every connection, bounded connect
 * retries, the message size limit and dead-lettering with a reason.
 *
 * The recovery case runs in a vhost of its own (`<run vhost>-recovery`, deleted at its end) so
 * that `close_all_connections --vhost` cannot disturb suites running in parallel in the run's
 * vhost, nor anything else on the broker. It needs rabbitmqctl (`RAYBUS_TEST_RABBITMQCTL` may name another command, e.g.
 * `docker exec rabbitmq rabbitmqctl`); without it the case is skipped, or fails when CI=true.
 */
import { spawnSync } from 'node:child_process';
import { AmqpTransportError, createAmqpTransport, DEAD_LETTER_QUEUE, DEATH_QUEUE_HEADER, DEATH_REASON_HEADER } from '../../adapters/amqp';
import type { Delivery, Transport, TransportStatus } from '../../src/transport/transport';
import { AMQP_TEST_URL, createScratchVhost, describeWithBroker, RABBITMQCTL, rabbitmqctl } from './amqp-broker';
import { Inbox, readU32, text, u32, uniqueName } from '../../src/testing/conformance';

/** Resolves once `statuses` has contained `first` and, later, `then`. */
function sawTransition(t: Transport, first: TransportStatus, then: TransportStatus): Promise<void> {
  return new Promise((resolve) => {
    let seenFirst = false;
    const sub = t.status$.subscribe((s) => {
      if (s === first) seenFirst = true;
      else if (seenFirst && s === then) {
        resolve();
        queueMicrotask(() => sub.unsubscribe());
      }
    });
  });
}

const ctlAvailable = spawnSync(RABBITMQCTL[0]!, [...RABBITMQCTL.slice(1), 'help'], { timeout: 15_000 }).error === undefined;

describeWithBroker('AMQP transport: recovery and limits', () => {
  const recoveryTest = ctlAvailable || process.env.CI === 'true' ? test : test.skip;
  if (!ctlAvailable && process.env.CI !== 'true') {
    process.stderr.write(`AMQP recovery case skipped: '${RABBITMQCTL.join(' ')}' is not available (set RAYBUS_TEST_RABBITMQCTL, or CI=true to fail instead).\n`);
  }

  recoveryTest(
    'reconnects after close_all_connections: re-declares, re-consumes, loses no message',
    async () => {
      const scratch = await createScratchVhost('recovery');

      const options = { initialDelayMs: 50, maxDelayMs: 1000, onWarning: () => undefined };
      const pub = createAmqpTransport(scratch.url, { ...options, connectionName: 'raybus-test-recovery-pub' });
      const sub = createAmqpTransport(scratch.url, { ...options, connectionName: 'raybus-test-recovery-sub' });
      const pubStatuses: TransportStatus[] = [];
      pub.status$.subscribe((s) => pubStatuses.push(s));
      const pubBack = sawTransition(pub, 'reconnecting', 'connected');
      const subBack = sawTransition(sub, 'reconnecting', 'connected');
      let recovered = false;
      void Promise.all([pubBack, subBack]).then(() => (recovered = true));
      await pub.connect();
      await sub.connect();
      const q = uniqueName('recovery');
      await pub.assertQueue(q);
      try {
        const received = new Set<number>();
        const allIn = new Inbox<number>();
        await sub.consume(
          q,
          (d: Delivery) => {
            const n = readU32(d.body);
            if (!received.has(n)) {
              received.add(n);
              allIn.push(n);
            }
            d.ack();
          },
          { prefetch: 50 },
        );

        const killed = rabbitmqctl(['close_all_connections', '--vhost', scratch.vhost, 'raybus recovery test']);
        let published = 0;
        let afterRecovery = 0;
        // Publish until both transports came back and 200 more messages went through.
        while (afterRecovery < 200) {
          await pub.publish(q, u32(published));
          published += 1;
          if (recovered) afterRecovery += 1;
        }
        await killed;
        await allIn.waitFor(published, 'distinct messages', 15_000);
        expect(received.size).toBe(published);
        expect(pubStatuses).toEqual(expect.arrayContaining(['connected', 'reconnecting']));
        expect(pubStatuses.lastIndexOf('connected')).toBeGreaterThan(pubStatuses.indexOf('reconnecting'));
      } finally {
        await pub.deleteQueue(q).catch(() => undefined);
        await pub.close();
        await sub.close();
        await scratch.remove();
      }
    },
    60_000,
  );

  test('wrong credentials: connect() rejects clearly after bounded, spaced retries', async () => {
    const u = new URL(AMQP_TEST_URL);
    u.username = 'raybus-nobody';
    u.password = 'not-the-password';
    const t = createAmqpTransport(u.toString(), { connectAttempts: 3, initialDelayMs: 200, jitter: 0 });
    const statuses: TransportStatus[] = [];
    t.status$.subscribe((s) => statuses.push(s));
    const started = Date.now();
    const err: unknown = await t.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(AmqpTransportError);
    expect((err as AmqpTransportError).code).toBe('CONNECT_FAILED');
    expect((err as Error).message).toMatch(/after 3 attempts: .*ACCESS.REFUSED/);
    expect((err as Error).message).not.toContain('not-the-password');
    // Two waits of 200 and 400 ms: retried with backoff, not in a hot loop, and bounded.
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(5_000);
    expect(statuses).toEqual(['connecting', 'closed']);
    await expect(t.publish('anything', text('x'))).rejects.toThrow(/after 3 attempts/);
    await t.close();
  });

  test('a message above maxMessageBytes is rejected by publish and broadcast with a size error', async () => {
    const t = createAmqpTransport(AMQP_TEST_URL, { maxMessageBytes: 1024 });
    await t.connect();
    const q = uniqueName('size');
    await t.assertQueue(q);
    try {
      await expect(t.publish(q, new Uint8Array(1025))).rejects.toMatchObject({
        code: 'MESSAGE_TOO_LARGE',
        message: expect.stringMatching(/1025 bytes exceeds maxMessageBytes \(1024\)/),
      });
      await expect(t.broadcast(uniqueName('topic'), new Uint8Array(4096))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
      await expect(t.publish(q, new Uint8Array(1024))).resolves.toBeUndefined();
    } finally {
      await t.deleteQueue(q);
      await t.close();
    }
  });

  test('nack(false, reason) dead-letters the message with the reason in a header', async () => {
    const t = createAmqpTransport(AMQP_TEST_URL);
    await t.connect();
    const q = uniqueName('dead-letter');
    await t.assertQueue(q);
    try {
      const inbox = new Inbox<Delivery>();
      const c = await t.consume(q, (d) => {
        inbox.push(d);
        if (str(d) === 'with-reason') d.nack(false, 'handler refused it');
        else d.nack(false);
      }, { prefetch: 10 });
      await t.publish(q, text('with-reason'), { headers: { id: 7 } });
      await t.publish(q, text('plain'));
      await inbox.waitFor(2, 'deliveries');
      await c.cancel();

      // The dead-letter queue is shared: take ours, leave the rest unacked (requeued on cancel).
      const ours = new Inbox<Delivery>();
      const dlq = await t.consume(DEAD_LETTER_QUEUE, (d) => {
        if (d.headers[DEATH_QUEUE_HEADER] === q || d.headers['x-first-death-queue'] === q) {
          ours.push(d);
          d.ack();
        }
      }, { prefetch: 0 });
      await ours.waitFor(2, 'dead letters from our queue');
      await dlq.cancel();
      const byBody = new Map(ours.items.map((d) => [str(d), d]));
      expect(byBody.get('with-reason')!.headers).toMatchObject({ id: 7, [DEATH_REASON_HEADER]: 'handler refused it', [DEATH_QUEUE_HEADER]: q });
      expect(byBody.get('plain')!.headers).toMatchObject({ 'x-first-death-reason': 'rejected', 'x-first-death-queue': q });
    } finally {
      await t.deleteQueue(q);
      await t.close();
    }
  });
});

function str(d: Delivery): string {
  return new TextDecoder().decode(d.body);
}
