/**
 * raybus's warnings in tests. raybus reports non-fatal problems with `process.emitWarning`
 * (messages start with `raybus`), which Node prints as `(node:<pid>) Warning: raybus: ...`.
 * A test that provokes one on purpose (an infeasible task, a broker restart) declares it with
 * `expectWarnings(/pattern/)`: matching raybus warnings are then kept for the test to assert on
 * instead of printed. Every other warning prints as before, so an unexpected one stays
 * visible among the results.
 *
 * The jest config loads this file in every test file (`setupFilesAfterEnv`), which installs the
 * capture; tests import `expectWarnings` from it.
 *
 * @example
 * const infeasible = expectWarnings(/is infeasible/);
 * ... submit a task no node can run ...
 * expect(infeasible.messages()).toHaveLength(1);
 */

/** Warnings a test declared as expected. */
export interface ExpectedWarnings {
  /** The raybus warnings that matched so far (in order). */
  messages(): string[];
}

interface Expectation {
  readonly pattern: RegExp;
  readonly seen: string[];
}

interface CaptureState {
  expectations: Expectation[];
}

// On the global object: the same state whichever module registry loads this file.
const STATE = Symbol.for('raybus.test.expected-warnings');
function state(): CaptureState {
  const g = globalThis as unknown as Record<symbol, CaptureState | undefined>;
  return (g[STATE] ??= { expectations: [] });
}

/**
 * Declare raybus warnings matching `pattern` as expected for the rest of this test file: they
 * are kept (see `messages()`) instead of printed. Make the pattern specific to the case.
 */
export function expectWarnings(pattern: RegExp): ExpectedWarnings {
  const e: Expectation = { pattern, seen: [] };
  state().expectations.push(e);
  return { messages: () => [...e.seen] };
}

function messageOf(warning: unknown): string {
  if (typeof warning === 'string') return warning;
  if (warning instanceof Error) return warning.message;
  return String(warning);
}

/** Wrap `process.emitWarning` of this test file's `process` (once). */
function install(): void {
  const proc = process as NodeJS.Process & { [STATE]?: true };
  if (proc[STATE]) return;
  proc[STATE] = true;
  const original = proc.emitWarning;
  proc.emitWarning = function emitWarning(this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const message = messageOf(warning);
    if (/^raybus\b/i.test(message)) {
      const expected = state().expectations.find((e) => e.pattern.test(message));
      if (expected) {
        expected.seen.push(message);
        return;
      }
    }
    (original as (...a: unknown[]) => void).call(proc, warning, ...rest);
  } as typeof process.emitWarning;
}

install();
