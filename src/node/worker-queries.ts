/**
 * A node's answers to state queries: its workers, live and recently dead (`listWorkers`), and
 * its process's bus traffic (`metrics`: its workers' traffic goes through it).
 */
import type { NodeId } from '../protocol/ids';
import type { WorkerItem } from '../protocol/state';
import type { Transport } from '../transport/transport';
import { StateResponder } from '../observability/state-responder';
import { selectSlice } from '../observability/state-query';
import { processMetrics } from '../observability/process-metrics';

/** A responder on the node's connection that answers `workers` queries from `workers`. */
export function answerWorkerQueries(transport: Transport, nodeId: NodeId, workers: { items(): Iterable<WorkerItem> }): StateResponder {
  const responder = new StateResponder(transport, { kind: 'node', id: nodeId, nodeId, pid: process.pid });
  responder.on('workers', (q) => {
    const slice = selectSlice('workers', workers.items(), q);
    return slice.total === 0 ? undefined : slice;
  });
  responder.on('metrics', () => ({ metrics: processMetrics() }));
  return responder;
}
