/**
 * A node's answers to state queries: its workers, live and recently dead (`listWorkers`).
 */
import type { NodeId } from '../protocol/ids';
import type { WorkerItem } from '../protocol/state';
import type { Transport } from '../transport/transport';
import { StateResponder } from '../observability/state-responder';
import { selectSlice } from '../observability/state-query';

/** A responder on the node's connection that answers `workers` queries from `workers`. */
export function answerWorkerQueries(transport: Transport, nodeId: NodeId, workers: { items(): Iterable<WorkerItem> }): StateResponder {
  const responder = new StateResponder(transport, { kind: 'node', id: nodeId, nodeId, pid: process.pid });
  responder.on('workers', (q) => {
    const slice = selectSlice('workers', workers.items(), q);
    return slice.total === 0 ? undefined : slice;
  });
  return responder;
}
