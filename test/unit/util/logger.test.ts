/** raybus's one logger: its level decides what is said; warnings go out as process warnings. */
import { logger, logLevel, logs, setLogLevel } from '../../../src/util/logger';
import { expectWarnings } from '../../support/expected-warnings';

const captured = expectWarnings(/^raybus: logger test/);
const before = logLevel();
afterEach(() => setLogLevel(before));

test('warnings and errors go through process.emitWarning at their level', () => {
  setLogLevel('warn');
  logger.warn('raybus: logger test warn');
  logger.error('logger test error');
  expect(captured.messages()).toEqual(['raybus: logger test warn', 'raybus: logger test error']);
});

test("'error' keeps errors only; 'silent' says nothing", () => {
  setLogLevel('error');
  logger.warn('raybus: logger test quiet warn');
  logger.error('raybus: logger test loud error');
  setLogLevel('silent');
  logger.error('raybus: logger test silent error');
  expect(captured.messages().filter((m) => /quiet|loud|silent/.test(m))).toEqual(['raybus: logger test loud error']);
  expect(logs('error')).toBe(false);
});

test('debug and info go to stderr when the level lets them', () => {
  const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    setLogLevel('info');
    logger.debug('raybus: logger test debug');
    logger.info('logger test info');
    setLogLevel('debug');
    logger.debug('raybus: logger test debug 2');
    expect(write.mock.calls.map((c) => c[0])).toEqual(['raybus: logger test info\n', 'raybus: logger test debug 2\n']);
  } finally {
    write.mockRestore();
  }
});

test('an unknown level is refused', () => {
  expect(() => setLogLevel('loud' as never)).toThrow(/logLevel must be one of 'debug', 'info', 'warn', 'error', 'silent'/);
});
