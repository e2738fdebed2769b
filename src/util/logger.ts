/**
 * raybus's own messages (never the user's output): one logger per process, with one level,
 * `init({ logLevel })` / `raybus start --log-level` / RAYBUS_LOG_LEVEL. Warnings and errors go
 * out through `process.emitWarning` (read at each call, so a wrapper installed later sees
 * them), as Node prints its own: `(node:<pid>) Warning: raybus: ...`. Debug and info lines go
 * to stderr. A worker process inherits its node's level (the node puts it in the worker's
 * environment).
 *
 * @example
 * logger.warn(`raybus broker: ${what} is infeasible`);
 * setLogLevel('silent'); // nothing from raybus any more
 */
import { processGlobal } from './process-global';

/** Levels, least severe first; `silent` prints nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/** The environment variable a process (a worker, a node) reads its level from at start. */
export const LOG_LEVEL_VAR = 'RAYBUS_LOG_LEVEL';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

const DEFAULT_LEVEL: LogLevel = 'info';

function isLevel(v: unknown): v is LogLevel {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(RANK, v);
}

const state = processGlobal<{ level: LogLevel }>('logger', () => {
  const fromEnv = process.env[LOG_LEVEL_VAR];
  return { level: isLevel(fromEnv) ? fromEnv : DEFAULT_LEVEL };
});

/** The level in force in this process. */
export function logLevel(): LogLevel {
  return state.level;
}

/** Set this process's level (`init({ logLevel })`). */
export function setLogLevel(level: LogLevel): void {
  if (!isLevel(level)) throw new RangeError(`logLevel must be one of ${LOG_LEVELS.map((l) => `'${l}'`).join(', ')}, got ${JSON.stringify(level)}`);
  state.level = level;
}

/** Would a message at `level` be printed now? */
export function logs(level: Exclude<LogLevel, 'silent'>): boolean {
  return RANK[level] >= RANK[state.level];
}

function line(message: string): string {
  return /^raybus\b/.test(message) ? message : `raybus: ${message}`;
}

/** raybus's logger: every message and warning of raybus goes through it. */
export const logger = {
  debug(message: string): void {
    if (logs('debug')) process.stderr.write(`${line(message)}\n`);
  },
  info(message: string): void {
    if (logs('info')) process.stderr.write(`${line(message)}\n`);
  },
  /** A non-fatal problem (Node prints it as a warning). */
  warn(message: string, type?: string): void {
    if (logs('warn')) emit(line(message), type);
  },
  /** Something failed that raybus recovered from (e.g. a handler threw). */
  error(message: string, type?: string): void {
    if (logs('error')) emit(line(message), type);
  },
};

function emit(message: string, type: string | undefined): void {
  if (type === undefined) process.emitWarning(message);
  else process.emitWarning(message, type);
}
