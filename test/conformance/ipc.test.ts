/**
 * The conformance suite on the worker's IPC transport (src/transport/ipc-transport.ts): each
 * transport is a worker's end of the link, its operations performed by an IpcBridge on a
 * connection of its own to an in-memory bus, as a node does; closing it closes that
 * connection, as a worker's exit does. The link is in-process (no worker processes).
 */
import { InMemoryBus } from '../../src/transport/in-memory-transport';
import { IpcTransport } from '../../src/transport/ipc-transport';
import { IpcBridge } from '../../src/node/ipc-bridge';
import type { FrameLink } from '../../src/transport/ipc-link';
import type { Transport } from '../../src/transport/transport';
import { describeTransport } from '../../src/testing/conformance';
import { JEST } from './jest-runner';

/** One end of an in-process link: what one side sends, the other receives in a later turn. */
class MemoryLink implements FrameLink {
  peer?: MemoryLink;
  open = true;
  private handler?: (bytes: Uint8Array) => void;

  send(parts: readonly Uint8Array[], written?: () => void): void {
    const peer = this.peer;
    const copy = Uint8Array.from(Buffer.concat(parts));
    if (this.open && peer?.open) setImmediate(() => peer.handler?.(copy));
    written?.();
  }

  onMessage(handler: (bytes: Uint8Array) => void): void {
    this.handler = handler;
  }

  onClose(): void {
    // The worker's transport closes itself here (below), never its node.
  }
}

/** A worker's transport on `bus`, through a bridge as its node would run it. */
function workerTransport(bus: InMemoryBus): Transport {
  const worker = new MemoryLink();
  const node = new MemoryLink();
  worker.peer = node;
  node.peer = worker;
  const own = bus.connect();
  const bridge = new IpcBridge('conformance worker', node, own, { onReady: () => undefined });
  const t = new IpcTransport(worker);
  const close = t.close.bind(t);
  // The worker goes away: its node closes the worker's connection (requeuing what it held).
  t.close = async () => {
    await close();
    worker.open = false;
    node.open = false;
    await bridge.close();
  };
  const connect = t.connect.bind(t);
  t.connect = async () => {
    await own.connect();
    await connect();
  };
  return t;
}

describeTransport(
  'worker IPC link',
  async () => {
    const bus = new InMemoryBus();
    return { a: workerTransport(bus), b: workerTransport(bus), cleanup: async () => undefined };
  },
  JEST,
  {
    knownFailures: [
      // A worker's publish is fire-and-forget on its hot path: the node reports a publish that
      // failed on the bus as a warning, never as a rejection the worker would wait for.
      'publishing to or consuming from a missing queue rejects; the transport stays usable',
    ],
  },
);
