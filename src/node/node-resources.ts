/**
 * What a node declares: CPUs (default: the machine's), GPUs (default: detected with
 * `nvidia-smi`, else 0), memory (default 70% of the machine's), custom resources and the
 * accelerator type (advertised as `accelerator_type:<T>`).
 */
import * as os from 'node:os';
import type { Resources } from '../protocol/wire';
import { detectGpus, detectGpusSync, type DetectedGpus } from './gpu-detect';

export interface NodeResourceOptions {
  readonly numCpus?: number;
  readonly numGpus?: number;
  readonly memory?: number;
  readonly resources?: Readonly<Record<string, number>>;
  readonly acceleratorType?: string;
}

/** Resolve a node's resources from options and what the machine has. */
export async function nodeResources(o: NodeResourceOptions, how: { detectGpus: boolean } = { detectGpus: true }): Promise<Resources> {
  const detected = how.detectGpus && o.numGpus === undefined ? await detectGpus() : NONE;
  return combine(o, detected);
}

/** The same, detecting GPUs synchronously (for `init`). */
export function nodeResourcesSync(o: NodeResourceOptions): Resources {
  return combine(o, o.numGpus === undefined ? detectGpusSync() : NONE);
}

const NONE: DetectedGpus = { count: 0, acceleratorType: undefined };

function combine(o: NodeResourceOptions, detected: DetectedGpus): Resources {
  const gpus = o.numGpus ?? detected.count;
  const accelerator = o.acceleratorType ?? (gpus > 0 ? detected.acceleratorType : undefined);
  return {
    CPU: o.numCpus ?? os.cpus().length,
    ...(gpus > 0 ? { GPU: gpus } : {}),
    memory: o.memory ?? Math.floor(os.totalmem() * 0.7),
    ...(o.resources ?? {}),
    ...(accelerator ? { [`accelerator_type:${accelerator}`]: 1 } : {}),
  };
}
