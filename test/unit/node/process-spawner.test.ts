import { workerExecArgv } from '../../../src/node/process-spawner';

test("a worker keeps the node's Node.js options, but not its -e/-p script, debugger or profiler", () => {
  expect(workerExecArgv(['--max-old-space-size=512', '-e', 'main()', '--enable-source-maps'])).toEqual(['--max-old-space-size=512', '--enable-source-maps']);
  expect(workerExecArgv(['--eval=main()', '-p', '1+1', '--print=2', '--inspect=9229', '--cpu-prof', '--cpu-prof-dir=/tmp'])).toEqual([]);
  expect(workerExecArgv(['--require', 'ts-node/register'])).toEqual(['--require', 'ts-node/register']);
  // A profiler option with its value apart takes the value with it (else the worker runs '/tmp/prof').
  expect(workerExecArgv(['--cpu-prof', '--cpu-prof-dir', '/tmp/prof', '--cpu-prof-interval', '500', '--inspect-port', '9230', '--trace-gc'])).toEqual(['--trace-gc']);
});
