/**
 * Running a user program as a user does, and checking that it ends by itself: exit code 0
 * within a bounded time, nothing killed.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import * as path from 'node:path';
import type { UserApp } from './app';

/** How a TypeScript program is run. */
export type Runner = 'tsx' | 'node --import tsx' | 'tsc + node';
export const TS_RUNNERS: readonly Runner[] = ['tsx', 'node --import tsx', 'tsc + node'];

/** What a program did. */
export interface ProgramRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  readonly timedOut: boolean;
}

/** The longest a program may take to finish and exit. */
export const PROGRAM_LIMIT_MS = 90_000;

/** The environment of a program: this process's, without raybus or test settings, plus `extra`. */
export function programEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('RAYBUS_') || k === 'NODE_OPTIONS' || k.startsWith('JEST_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** The arguments of `node` that run `file` (in its package's folder) with `runner`. */
export function commandFor(app: UserApp, file: string, runner: Runner | 'node'): string[] {
  switch (runner) {
    case 'node':
      return [file];
    case 'tsx':
      // What `npx tsx file.ts` runs.
      return [path.join(app.root, 'node_modules/tsx/dist/cli.mjs'), file];
    case 'node --import tsx':
      return ['--import', 'tsx', file];
    case 'tsc + node':
      return [path.join('build', file.replace(/\.ts$/, '.js'))];
  }
}

/** Run `node <args>` in `cwd`; resolves once it exited (killed after `limitMs`). */
export function runNode(args: string[], cwd: string, env: NodeJS.ProcessEnv, limitMs = PROGRAM_LIMIT_MS): Promise<ProgramRun> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, timedOut });
    });
  });
}

/** A failure message with everything the program printed. */
export function describeRun(label: string, run: ProgramRun): string {
  const how = run.timedOut ? `did not exit within ${PROGRAM_LIMIT_MS} ms` : run.signal ? `was killed by ${run.signal}` : `exited with code ${run.code}`;
  return `${label} ${how} after ${run.ms} ms\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

/** Record how long a program took (the harness's timing report, printed at the end of a suite). */
export function recordTiming(app: UserApp, label: string, run: ProgramRun): void {
  timings.push(`${(run.ms / 1000).toFixed(1).padStart(6)} s  ${label}`);
  appendFileSync(path.join(`${app.root}.state`, 'timings.txt'), `${(run.ms / 1000).toFixed(1)}\t${label}\n`);
}

const timings: string[] = [];

/** The timing lines of this suite. */
export function suiteTimings(): readonly string[] {
  return timings;
}

/** Run a program to completion and expect it to end by itself with code 0. */
export async function expectProgramSucceeds(app: UserApp, label: string, dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<ProgramRun> {
  const run = await runNode(args, dir, env);
  recordTiming(app, label, run);
  if (run.code !== 0 || run.timedOut || run.signal) throw new Error(describeRun(label, run));
  return run;
}
