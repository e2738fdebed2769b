/**
 * Where a node's worker processes start: the built `bin/worker.js` beside this folder.
 */
import * as path from 'node:path';

/** The script every worker process runs (`NodeOptions.workerEntry`). */
export const WORKER_ENTRY = path.join(__dirname, '..', 'bin', 'worker.js');
