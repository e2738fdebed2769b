/**
 * The worker ↔ node pipe link (src/transport/ipc-link.ts): length-prefixed messages survive
 * any split of the byte stream into reads, several messages per read, and large messages; a
 * node's link hands a message of several reads out over them where its reader seals from them.
 */
import { Duplex } from 'node:stream';
import { PipeLink, workerPollUs } from '../../../src/transport/ipc-link';
import { decodeFrames, encodeFrames, type ChildFrame } from '../../../src/transport/ipc-protocol';
import { GatheredBytes, joined } from '../../../src/serialization/gathered-bytes';

/** A duplex whose writes are collected, and whose reads the test feeds chunk by chunk. */
function fakeSocket(): { socket: Duplex; written: Buffer[]; feed(chunk: Buffer): void } {
  const written: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(Buffer.from(chunk));
      cb();
    },
  });
  return { socket, written, feed: (chunk) => socket.emit('data', chunk) };
}

const msg = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

test('messages written by one link are read back by another, split at every possible point', () => {
  const a = fakeSocket();
  const sender = new PipeLink(a.socket);
  const messages = [msg(0, 0), msg(1, 1), msg(300, 2), msg(5, 3)];
  for (const m of messages) sender.send([m]);
  const stream = Buffer.concat(a.written);
  for (let cut = 0; cut <= stream.length; cut++) {
    const b = fakeSocket();
    const got: Uint8Array[] = [];
    new PipeLink(b.socket).onMessage((m) => got.push(Uint8Array.from(m)));
    if (cut > 0) b.feed(stream.subarray(0, cut));
    if (cut < stream.length) b.feed(stream.subarray(cut));
    expect(got).toEqual(messages.map((m) => Uint8Array.from(m)));
  }
});

test('byte-by-byte reads and a 1 MB message', () => {
  const a = fakeSocket();
  const sender = new PipeLink(a.socket);
  const big = msg(1 << 20, 9);
  sender.send([msg(3, 1)]);
  sender.send([big]);
  const stream = Buffer.concat(a.written);
  const b = fakeSocket();
  const got: number[] = [];
  new PipeLink(b.socket).onMessage((m) => got.push(m.byteLength));
  for (let i = 0; i < 64; i++) b.feed(stream.subarray(i, i + 1));
  b.feed(stream.subarray(64));
  expect(got).toEqual([3, big.byteLength]);
});

test('large messages read as they arrive: any split, content intact, with what follows them in the same read', async () => {
  const a = fakeSocket();
  const sender = new PipeLink(a.socket);
  // Distinct bytes, so a shifted or missing part shows.
  const big = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
  const messages = [msg(2, 1), big((1 << 20) + 5, 3), msg(7, 4), big(3 << 20, 5), msg(1, 6)];
  let written = 0;
  for (const m of messages) sender.send([m], () => (written += 1));
  await new Promise((resolve) => setImmediate(resolve));
  expect(written).toBe(messages.length);
  const stream = Buffer.concat(a.written);
  for (const size of [4093, 65536, 1 << 20, (1 << 20) + 17, stream.length]) {
    const b = fakeSocket();
    const got: Uint8Array[] = [];
    new PipeLink(b.socket).onMessage((m) => got.push(Uint8Array.from(m)));
    for (let at = 0; at < stream.length; at += size) b.feed(stream.subarray(at, at + size));
    expect(got.map((m) => m.byteLength)).toEqual(messages.map((m) => m.byteLength));
    got.forEach((m, i) => expect(Buffer.compare(m, messages[i]!)).toBe(0));
  }
});

test('a closed link drops sends but still calls back (a draining worker does not wait forever)', () => {
  const a = fakeSocket();
  const link = new PipeLink(a.socket);
  a.socket.destroy();
  let called = false;
  link.send([msg(1, 1)], () => {
    called = true;
  });
  expect(called).toBe(true);
  expect(link.open).toBe(false);
});

test('the other end closing is reported once (a worker without an IPC channel learns its node is gone)', async () => {
  const a = fakeSocket();
  const link = new PipeLink(a.socket);
  let closed = 0;
  const reported = new Promise<void>((resolve) =>
    link.onClose(() => {
      closed += 1;
      resolve();
    }),
  );
  expect(closed).toBe(0);
  a.socket.push(null);
  a.socket.end();
  await reported;
  a.socket.destroy();
  await new Promise((r) => setImmediate(r));
  expect(closed).toBe(1);
  expect(link.open).toBe(false);
});

/**
 * A link reading on its own socket (a worker's pipe, `PipeLink.onFd`): the test plays the
 * socket, reading up to `size` bytes of the stream into whatever buffer the link offers next,
 * as libuv does with a socket's `onread`.
 */
function ownReads(stream: Buffer, size: number): { got: Uint8Array[]; offered: Uint8Array[] } {
  let reads: import('../../../src/transport/ipc-link').OwnReads | undefined;
  const link = PipeLink.readingInto((onread) => {
    reads = onread;
    return fakeSocket().socket;
  });
  const got: Uint8Array[] = [];
  const offered: Uint8Array[] = [];
  link.onMessage((m) => got.push(m));
  let into = reads!.buffer();
  for (let at = 0; at < stream.length; ) {
    offered.push(into);
    const n = Math.min(size, into.length, stream.length - at);
    into.set(stream.subarray(at, at + n));
    at += n;
    reads!.callback(n, into);
    into = reads!.buffer();
  }
  return { got, offered };
}

test('reading on its own socket: every split, large messages read straight into the buffer they are handed over in', async () => {
  const a = fakeSocket();
  const sender = new PipeLink(a.socket);
  const big = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
  const messages = [msg(2, 1), big((1 << 20) + 5, 3), msg(7, 4), msg(300, 8), big(3 << 20, 5), msg(1, 6)];
  for (const m of messages) sender.send([m]);
  await new Promise((resolve) => setImmediate(resolve));
  const stream = Buffer.concat(a.written);
  for (const size of [1, 4093, 65536, 1 << 20, stream.length]) {
    if (size === 1) {
      // Byte by byte over the small messages and the head of the first large one.
      const { got } = ownReads(stream.subarray(0, 64), 1);
      expect(got.map((m) => m.byteLength)).toEqual([2]);
      continue;
    }
    const { got, offered } = ownReads(stream, size);
    expect(got.map((m) => m.byteLength)).toEqual(messages.map((m) => m.byteLength));
    // Compared after the last read: the small buffer was read into again and again since.
    got.forEach((m, i) => expect(Buffer.compare(m, messages[i]!)).toBe(0));
    // Reads landed in the very buffers the large messages were handed over in.
    const large = got.filter((m) => m.byteLength >= 1 << 20);
    expect(offered.filter((o) => large.some((m) => o.buffer === m.buffer)).length).toBeGreaterThan(0);
  }
});

test('RAYBUS_WORKER_POLL_US: a budget in µs, 0 to never poll; anything else is refused by name', () => {
  expect(workerPollUs({})).toBe(120);
  expect(workerPollUs({ RAYBUS_WORKER_POLL_US: '' })).toBe(120);
  expect(workerPollUs({ RAYBUS_WORKER_POLL_US: '0' })).toBe(0);
  expect(workerPollUs({ RAYBUS_WORKER_POLL_US: '300' })).toBe(300);
  for (const bad of ['-1', '1.5', 'fast', '10001']) expect(() => workerPollUs({ RAYBUS_WORKER_POLL_US: bad })).toThrow(/RAYBUS_WORKER_POLL_US must be an integer from 0 to 10000/);
});

/**
 * A worker polls its pipe after a write (`PipeLink.onFd` with a budget). The test plays the
 * socket as libuv does — each read lands in the buffer the link gave after the read before it
 * — and the poll's own reads, which may run between them. Its clock moves 1 µs at each
 * reading (a poll that finds nothing gives up after its budget of readings) and `later()`
 * jumps it by 20 ms: whether a message came soon after a write never depends on how busy the
 * machine is.
 */
function polledLink(budgetUs: number, after = 0) {
  let ns = 0n;
  const now = (): bigint => (ns += 1000n);
  const later = (): void => {
    ns += 20_000_000n;
  };
  const pollable: Buffer[] = [];
  let reads: import('../../../src/transport/ipc-link').OwnReads | undefined;
  const link = PipeLink.readingInto(
    (onread) => {
      reads = onread;
      return fakeSocket().socket;
    },
    {
      us: budgetUs,
      after,
      now,
      read: (into) => {
        const next = pollable.shift();
        if (!next) return -1;
        const n = Math.min(next.length, into.length);
        into.set(next.subarray(0, n));
        if (n < next.length) pollable.unshift(next.subarray(n));
        return n;
      },
    },
  );
  let registered = reads!.buffer();
  /** The socket reads up to `bytes.length` into the buffer it was given. */
  const socketRead = (bytes: Buffer): Buffer => {
    const n = Math.min(bytes.length, registered.length);
    registered.set(bytes.subarray(0, n));
    reads!.callback(n, registered);
    registered = reads!.buffer();
    return bytes.subarray(n);
  };
  return { link, pollable, socketRead, later };
}

const framed = (body: Uint8Array): Buffer => {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
};

test('a poll after a write reads the next message; a large message coming in is left to the socket', async () => {
  const { link, pollable, socketRead } = polledLink(2000);
  const big = Buffer.from(Uint8Array.from({ length: (2 << 20) + 9 }, (_, i) => (i * 13 + 1) & 0xff));
  const got: Buffer[] = [];
  link.onMessage((m) => {
    got.push(Buffer.from(m));
    if (m.length < 100) link.send([Uint8Array.of(1)]); // an answer: a poll follows it
  });
  /** The socket reads `bytes` in reads of at most `size`; returns nothing left. */
  const socketReads = (bytes: Buffer, size = 65_536): void => {
    while (bytes.length > 0) {
      const piece = bytes.subarray(0, size);
      bytes = bytes.subarray(piece.length - socketRead(piece).length);
    }
  };
  // A small call; the poll after its answer reads the next one.
  socketReads(framed(Buffer.from('call 1')));
  pollable.push(framed(Buffer.from('call 2')));
  await new Promise((r) => setImmediate(r));
  expect(got.map((m) => m.toString())).toEqual(['call 1', 'call 2']);
  expect(link.pollStats).toEqual({ polls: 1, caught: 1 });
  // A call and a large message behind it: the socket has begun the large one into its own
  // buffer when the poll after the call's answer runs, with more of it waiting. The poll
  // leaves it to the socket, whose next read lands where its last one left off.
  const stream = Buffer.concat([framed(Buffer.from('call 3')), framed(big)]);
  socketReads(stream.subarray(0, 200_000));
  pollable.push(stream.subarray(200_000, 300_000));
  await new Promise((r) => setImmediate(r));
  expect(link.pollStats.polls).toBe(1);
  socketReads(Buffer.concat([...pollable.splice(0), stream.subarray(300_000)]));
  expect(got.map((m) => m.length)).toEqual([6, 6, 6, big.length]);
  expect(Buffer.compare(got[3]!, big)).toBe(0);
  // A poll that reads the start of a large message: the socket reads the rest.
  link.send([Uint8Array.of(2)]);
  const stream2 = Buffer.concat([framed(Buffer.from('call 4')), framed(big)]);
  pollable.push(stream2.subarray(0, 40_000));
  await new Promise((r) => setImmediate(r));
  expect(link.pollStats).toEqual({ polls: 2, caught: 2 });
  socketReads(stream2.subarray(40_000));
  expect(got.map((m) => m.length)).toEqual([6, 6, 6, big.length, 6, big.length]);
  expect(Buffer.compare(got[5]!, big)).toBe(0);
});

test('a poll that catches nothing stops polling; a message soon after a write starts it again', async () => {
  const { link, pollable, socketRead, later } = polledLink(2000);
  const got: string[] = [];
  link.onMessage((m) => got.push(Buffer.from(m).toString()));
  link.send([Uint8Array.of(1)]);
  await new Promise((r) => setImmediate(r));
  expect(link.pollStats).toEqual({ polls: 1, caught: 0 });
  // Off: a write schedules no poll, and a message long after a write leaves it off.
  link.send([Uint8Array.of(1)]);
  later();
  socketRead(framed(Buffer.from('late')));
  link.send([Uint8Array.of(1)]);
  pollable.push(framed(Buffer.from('never polled')));
  await new Promise((r) => setImmediate(r));
  expect(link.pollStats.polls).toBe(1);
  // A message that follows a write within two budgets turns it on again.
  link.send([Uint8Array.of(1)]);
  socketRead(Buffer.concat(pollable.splice(0)));
  link.send([Uint8Array.of(1)]);
  pollable.push(framed(Buffer.from('polled')));
  await new Promise((r) => setImmediate(r));
  expect(link.pollStats).toEqual({ polls: 2, caught: 1 });
  expect(got).toEqual(['late', 'never polled', 'polled']);
});

test('polls that catch nothing back off: after each miss in a row, twice as many calls go unpolled; a catch ends it', async () => {
  // A caller on the worker's own CPU: it cannot send while the worker polls, and sends just after.
  const { link, pollable, socketRead } = polledLink(50);
  link.onMessage(() => undefined);
  const round = async (caught: boolean): Promise<boolean> => {
    const before = link.pollStats.polls;
    link.send([Uint8Array.of(1)]);
    if (caught) pollable.push(framed(Buffer.from('call')));
    await new Promise((r) => setImmediate(r));
    // What no poll read, the socket reads, soon after the write.
    const unread = caught ? Buffer.concat(pollable.splice(0)) : framed(Buffer.from('call'));
    if (unread.length > 0) socketRead(unread);
    return link.pollStats.polls > before;
  };
  const polled: number[] = [];
  for (let i = 1; i <= 20; i++) if (await round(false)) polled.push(i);
  expect(polled).toEqual([1, 2, 4, 8, 16]);
  expect(link.pollStats).toEqual({ polls: 5, caught: 0 });
  // The caller can send while the worker polls again (the scheduler moved one of them): the
  // next poll catches its call, and every call after it is polled for.
  const after: boolean[] = [];
  for (let i = 21; i <= 40; i++) after.push(await round(true));
  expect(after.indexOf(true)).toBe(11);
  expect(after.slice(11).every(Boolean)).toBe(true);
  expect(link.pollStats.caught).toBe(link.pollStats.polls - 5);
});

test('a poll that missed because its caller paused adds nothing to the backoff', async () => {
  const { link, pollable, socketRead, later } = polledLink(50);
  link.onMessage(() => undefined);
  const call = async (pauseFirst: boolean): Promise<boolean> => {
    const before = link.pollStats.polls;
    link.send([Uint8Array.of(1)]);
    await new Promise((r) => setImmediate(r));
    if (pauseFirst) later();
    socketRead(framed(Buffer.from('call')));
    return link.pollStats.polls > before;
  };
  // Two misses in a row, each message just after the poll: the third call goes unpolled.
  expect([await call(false), await call(false), await call(false)]).toEqual([true, true, false]);
  // A third miss, but the message comes after a pause: no backoff, so the next loop of calls
  // is polled for from its second call on (its first follows a long gap).
  expect(await call(true)).toBe(true);
  const polled: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    link.send([Uint8Array.of(1)]);
    pollable.push(framed(Buffer.from('call')));
    const before = link.pollStats.polls;
    await new Promise((r) => setImmediate(r));
    if (pollable.length > 0) socketRead(Buffer.concat(pollable.splice(0)));
    polled.push(link.pollStats.polls > before);
  }
  expect(polled).toEqual([false, true, true]);
});

test('polling starts only once enough messages came soon after writes (an actor called now and then never polls)', async () => {
  const { link, pollable, socketRead, later } = polledLink(2000, 3);
  const got: string[] = [];
  link.onMessage((m) => got.push(Buffer.from(m).toString()));
  link.send([Uint8Array.of(1)]);
  pollable.push(framed(Buffer.from('not polled')));
  await new Promise((r) => setImmediate(r));
  expect(link.pollStats.polls).toBe(0);
  socketRead(Buffer.concat(pollable.splice(0)));
  // A message long after a write does not count; two more soon after one do: three.
  link.send([Uint8Array.of(1)]);
  later();
  socketRead(framed(Buffer.from('late')));
  for (const m of ['a', 'b']) {
    link.send([Uint8Array.of(1)]);
    socketRead(framed(Buffer.from(m)));
  }
  link.send([Uint8Array.of(1)]);
  pollable.push(framed(Buffer.from('polled')));
  await new Promise((r) => setImmediate(r));
  expect(link.pollStats).toEqual({ polls: 1, caught: 1 });
  expect(got).toEqual(['not polled', 'late', 'a', 'b', 'polled']);
});

describe('a node gathering its reads (gatherWhen): a message of several reads handed out over them', () => {
  /** Bytes that differ from one place to the next, so that a shifted or missing part shows. */
  const pattern = (n: number, seed: number): Buffer => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff));
  /** The stream a worker's link writes for these batches of frames. */
  async function streamOf(batches: ChildFrame[][]): Promise<Buffer> {
    const a = fakeSocket();
    const sender = new PipeLink(a.socket);
    for (const frames of batches) sender.send(encodeFrames(frames));
    await new Promise((resolve) => setImmediate(resolve));
    return Buffer.concat(a.written);
  }
  /** The messages a node's link hands out for `stream` read in pieces of `size` (or of the sizes `sizes` gives). */
  function receive(stream: Buffer, sizes: () => number, gather = true): Uint8Array[] {
    const b = fakeSocket();
    const link = new PipeLink(b.socket);
    link.gatherWhen(() => gather);
    const got: Uint8Array[] = [];
    link.onMessage((m) => got.push(m));
    for (let at = 0; at < stream.length; ) {
      const n = Math.max(1, sizes());
      b.feed(stream.subarray(at, at + n));
      at += n;
    }
    return got;
  }
  /** A body's bytes: a gathered one's parts, one after the other (it stays gathered). */
  const bytesOf = (body: Uint8Array): Buffer => {
    if (!(body instanceof GatheredBytes && body.gathered)) return Buffer.from(body);
    const parts: Uint8Array[] = [];
    body.partsInto(parts);
    return Buffer.concat(parts);
  };
  /** A frame as plain data, a body as its bytes. */
  const plain = (f: ChildFrame): unknown => ('body' in f ? { ...f, body: bytesOf(f.body) } : f);

  test('fields are copied in, a publish body spanning whole reads stays over them, and what follows is read on', async () => {
    const big = pattern(300_000, 1);
    const batches: ChildFrame[][] = [
      [
        { op: 'ack', ctag: 1, dtag: 2 },
        { op: 'pub', queue: 'raybus.reply.driver-1', body: big, headers: { kind: 'blob-chunk' }, transient: true },
        { op: 'pub', queue: 'raybus.reply.driver-2', body: pattern(10, 2), batch: true },
      ],
      [{ op: 'ack', ctag: 3, dtag: 4 }],
    ];
    const stream = await streamOf(batches);
    for (const size of [1_000, 4_093, 65_536, 70_001]) {
      const got = receive(stream, () => size);
      expect(got).toHaveLength(2);
      expect(got[0] instanceof GatheredBytes).toBe(true);
      const frames = decodeFrames<ChildFrame>(got[0]!)!;
      expect(frames.map(plain)).toEqual(batches[0]!.map(plain));
      // The big body left as views of the reads: never joined on the node.
      const body = frames[1]!.op === 'pub' ? frames[1].body : undefined;
      expect(body instanceof GatheredBytes && body.gathered).toBe(true);
      expect(Buffer.compare(bytesOf(body!), big)).toBe(0);
      // Whoever needs it whole gets the same bytes.
      expect(Buffer.compare(joined(body!), big)).toBe(0);
      expect(decodeFrames<ChildFrame>(got[1]!)).toEqual(batches[1]);
    }
  });

  test('any batch, any reads: the frames decode as they do from the joined message', async () => {
    // A seeded generator: the same cases every run.
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 60; round++) {
      const batch: ChildFrame[] = [];
      const count = 1 + rand(5);
      for (let i = 0; i < count; i++) {
        const kind = rand(4);
        if (kind === 0) batch.push({ op: 'ack', ctag: rand(100), dtag: rand(1000) });
        else if (kind === 1) batch.push({ op: 'bcast', topic: `raybus.topic-${rand(9)}`, body: pattern(rand(200_000), round) });
        else batch.push({ op: 'pub', queue: `raybus.reply.d-${rand(9)}`, body: pattern(rand(4) === 0 ? rand(100) : rand(400_000), i), ...(rand(2) ? { headers: { k: `v${rand(9)}` } } : {}) });
      }
      const stream = await streamOf([batch, [{ op: 'ack', ctag: 0, dtag: round }]]);
      const sizes = [1 + rand(3), 1 + rand(70_000), 65_536];
      const got = receive(stream, () => sizes[rand(3)]!);
      expect(got).toHaveLength(2);
      expect(decodeFrames<ChildFrame>(got[0]!)!.map(plain)).toEqual(batch.map(plain));
      expect(decodeFrames<ChildFrame>(got[1]!)).toEqual([{ op: 'ack', ctag: 0, dtag: round }]);
    }
  });

  test('only while its reader takes it: otherwise a message is joined, and a small one always is', async () => {
    const big = pattern(200_000, 3);
    const stream = await streamOf([[{ op: 'pub', queue: 'raybus.reply.d', body: big }], [{ op: 'pub', queue: 'raybus.reply.d', body: pattern(1_000, 4) }]]);
    const joinedOnes = receive(stream, () => 4_096, false);
    expect(joinedOnes.some((m) => m instanceof GatheredBytes)).toBe(false);
    const gathered = receive(stream, () => 4_096);
    expect(gathered.map((m) => m instanceof GatheredBytes)).toEqual([true, false]);
    expect(gathered.map((m) => decodeFrames<ChildFrame>(m)!.map(plain))).toEqual(joinedOnes.map((m) => decodeFrames<ChildFrame>(m)!.map(plain)));
  });

  test('a message in very many small reads is joined (or read into one buffer), not held as thousands of them', async () => {
    for (const [size, read] of [
      [200_000, 40],
      [2_100_000, 400],
    ] as const) {
      const body = pattern(size, 6);
      const stream = await streamOf([[{ op: 'pub', queue: 'raybus.reply.d', body }]]);
      const [m] = receive(stream, () => read);
      expect(m instanceof GatheredBytes).toBe(false);
      expect(decodeFrames<ChildFrame>(m!)!.map(plain)).toEqual([{ op: 'pub', queue: 'raybus.reply.d', body }].map((f) => plain(f as ChildFrame)));
    }
  });

  test('a malformed gathered batch throws, as a joined one does', async () => {
    const stream = await streamOf([[{ op: 'pub', queue: 'raybus.reply.d', body: pattern(200_000, 5) }]]);
    // Its body's length says more than the message holds.
    const at = stream.indexOf(Buffer.from('raybus.reply.d')) + 'raybus.reply.d'.length + 1;
    stream.writeUInt32LE(300_000, at);
    const [m] = receive(stream, () => 65_536);
    expect(m instanceof GatheredBytes).toBe(true);
    expect(() => decodeFrames<ChildFrame>(m!)).toThrow('shorter than its bodies');
  });
});
