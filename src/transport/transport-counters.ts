/**
 * Messages and bytes this process moved on its bus, for the `raybus_transport_*` metrics:
 * plain integers bumped where a message crosses the bus boundary (the in-memory bus, and the
 * cluster transport in front of a broker adapter), so counting costs an addition per message.
 * Node ↔ worker IPC is not counted: it is relayed through the node's bus connection, which is.
 */
import { processGlobal } from '../util/process-global';

/** Totals since this process started. */
export interface TransportCounters {
  /** Messages published to queues and topics. */
  sent: number;
  sentBytes: number;
  /** Messages delivered to this process's consumers and subscribers. */
  received: number;
  receivedBytes: number;
}

/** This process's counters (shared by every copy of raybus loaded in it). */
export const transportCounters: TransportCounters = processGlobal<TransportCounters>('transport-counters', () => ({ sent: 0, sentBytes: 0, received: 0, receivedBytes: 0 }));
