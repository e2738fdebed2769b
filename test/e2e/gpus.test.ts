/**
 * GPU detection and assignment, with a stand-in `nvidia-smi` on PATH (this machine has no
 * GPU; the same checks run unchanged on a GPU machine with the real one): the node detects 2
 * A100s, workers get CUDA_VISIBLE_DEVICES set to exactly their ids, `getGpuIds()` returns them,
 * fractional requests share an id, and the accelerator type constrains placement.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ray from '../../src/index';
import { expectWarnings } from '../support/expected-warnings';

const ray: typeof Ray = require('raybus');

const gpuInfo = ray.remote(() => [process.env.CUDA_VISIBLE_DEVICES ?? null, ray.getGpuIds(), ray.getRuntimeContext().getAssignedResources()]);

let dir: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-fake-smi-'));
  const smi = path.join(dir, 'nvidia-smi');
  writeFileSync(smi, '#!/bin/sh\necho "0, NVIDIA A100-SXM4-40GB"\necho "1, NVIDIA A100-SXM4-40GB"\n');
  chmodSync(smi, 0o755);
  process.env.PATH = `${dir}${path.delimiter}${savedPath}`;
  await ray.init({ numCpus: 4 });
});

afterAll(async () => {
  await ray.shutdown();
  process.env.PATH = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

test('the node detects the GPUs and their accelerator type', async () => {
  const total = await ray.clusterResources();
  expect(total.GPU).toBe(2);
  expect(total['accelerator_type:A100']).toBe(1);
});

test('a GPU task sees exactly its GPU ids; a CPU task sees none', async () => {
  const [visible, ids, assigned] = (await ray.get(gpuInfo.options({ numGpus: 1 }).remote())) as [string, number[], Record<string, number>];
  expect(ids).toHaveLength(1);
  expect(visible).toBe(String(ids[0]));
  expect(assigned.GPU).toBe(1);
  const [cpuVisible, cpuIds] = (await ray.get(gpuInfo.remote())) as [string, number[]];
  expect(cpuIds).toEqual([]);
  expect(cpuVisible).toBe('');
  const [both, bothIds] = (await ray.get(gpuInfo.options({ numGpus: 2 }).remote())) as [string, number[]];
  expect(bothIds.sort()).toEqual([0, 1]);
  expect(both.split(',').sort()).toEqual(['0', '1']);
});

test('fractional GPU requests can share one id; amounts above 1 must be whole', async () => {
  const hold = ray.remote({ numGpus: 0.5 })(async () => {
    const start = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    return { ids: ray.getGpuIds(), start, end: Date.now() };
  });
  const results = (await ray.get([hold.remote(), hold.remote(), hold.remote(), hold.remote()])) as Array<{ ids: number[]; start: number; end: number }>;
  for (const r of results) expect(r.ids).toHaveLength(1);
  // At no moment do more than two halves run on one id (one id may serve more in turn).
  for (const r of results) {
    const sharing = results.filter((o) => o.ids[0] === r.ids[0] && o.start <= r.start && r.start < o.end);
    expect(sharing.length).toBeLessThanOrEqual(2);
  }
  expect(() => gpuInfo.options({ numGpus: 1.5 })).toThrow(/numGpus/);
});

test('acceleratorType places only on nodes of that type', async () => {
  const [, ids] = (await ray.get(gpuInfo.options({ numGpus: 1, acceleratorType: ray.util.accelerators.NVIDIA_A100 }).remote())) as [string, number[]];
  expect(ids).toHaveLength(1);
  expectWarnings(/^raybus: a task needing \{GPU: 1, accelerator_type:H100\b.* is infeasible/);
  const elsewhere = gpuInfo.options({ numGpus: 1, acceleratorType: ray.util.accelerators.NVIDIA_H100 }).remote();
  const [ready] = await ray.wait([elsewhere], { timeoutMs: 200 });
  expect(ready).toEqual([]);
});

test('GPU tasks default to maxCalls 1: each run gets a fresh worker', async () => {
  const pid = ray.remote({ numGpus: 1 })(() => process.pid);
  const a = await ray.get(pid.remote());
  const b = await ray.get(pid.remote());
  expect(a).not.toBe(b);
});
