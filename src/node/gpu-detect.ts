/**
 * GPU detection with `nvidia-smi` (no GPUs, or no nvidia-smi → 0). The accelerator type is
 * derived from the product name the way Ray's NVIDIA accelerator manager does it
 * ("NVIDIA A100-SXM4-40GB" → "A100", "Tesla V100-SXM2-16GB" → "V100", "NVIDIA H100 80GB HBM3" → "H100").
 */
import { execFile, execFileSync } from 'node:child_process';

export interface DetectedGpus {
  readonly count: number;
  readonly acceleratorType: string | undefined;
}

/** Turn an nvidia-smi product name into Ray's accelerator type name. */
export function acceleratorTypeFromName(name: string): string | undefined {
  const words = name.replace(/^NVIDIA\s+/i, '').replace(/^(Tesla|GeForce|Quadro)\s+/i, '').trim().split(/\s+/);
  const first = words[0];
  if (!first) return undefined;
  // "A100-SXM4-40GB" → "A100"; keep well-known suffixed names like "A10G", "L40S".
  return first.split('-')[0];
}

/** Parse `nvidia-smi --query-gpu=index,name --format=csv,noheader` output. */
export function parseNvidiaSmi(stdout: string): DetectedGpus {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const names = lines.map((l) => l.split(',').slice(1).join(',').trim()).filter(Boolean);
  return { count: names.length, acceleratorType: names[0] ? acceleratorTypeFromName(names[0]) : undefined };
}

function limitToVisible(found: DetectedGpus): DetectedGpus {
  const visible = process.env.CUDA_VISIBLE_DEVICES;
  if (visible === undefined) return found;
  const ids = visible.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return { count: Math.min(found.count, ids.length), acceleratorType: found.acceleratorType };
}

/** Synchronous detection, for `init()` (which sets up synchronously). */
export function detectGpusSync(timeoutMs = 5000): DetectedGpus {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index,name', '--format=csv,noheader'], { timeout: timeoutMs, stdio: ['ignore', 'pipe', 'ignore'], env: process.env });
    return limitToVisible(parseNvidiaSmi(String(out)));
  } catch {
    return { count: 0, acceleratorType: undefined };
  }
}

/** Ask nvidia-smi (bounded by a timeout). Honours CUDA_VISIBLE_DEVICES when set. */
export function detectGpus(timeoutMs = 5000): Promise<DetectedGpus> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=index,name', '--format=csv,noheader'], { timeout: timeoutMs, env: process.env }, (err, stdout) => {
      if (err) return resolve({ count: 0, acceleratorType: undefined });
      resolve(limitToVisible(parseNvidiaSmi(String(stdout))));
    });
  });
}
