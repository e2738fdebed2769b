/**
 * The dashboard's options, as `init({ dashboard })` (Ray's `include_dashboard`) and
 * `raybus dashboard` take them: checked where they are given, misuse naming the option.
 */
import { normalizeInitOptions } from '../../../src/api/options';
import { isLoopbackHost, resolveDashboardOption } from '../../../src/dashboard/dashboard-options';
import { parseArgs, UsageError } from '../../../src/cli/args';
import { init } from '../../../src/api/init';

test('true is 127.0.0.1:8265; an object may set port (0: any free), host and token', () => {
  expect(resolveDashboardOption(true, "'dashboard'")).toEqual({ port: 8265, host: '127.0.0.1' });
  expect(resolveDashboardOption({ port: 0, host: '0.0.0.0', token: 't0k3n' }, "'dashboard'")).toEqual({ port: 0, host: '0.0.0.0', token: 't0k3n' });
});

test('init validates it synchronously, naming the option; include_dashboard is the snake_case spelling', () => {
  expect(normalizeInitOptions({ dashboard: true })).toEqual({ dashboard: { port: 8265, host: '127.0.0.1' } });
  expect(normalizeInitOptions({ include_dashboard: { port: 9000 } })).toEqual({ dashboard: { port: 9000, host: '127.0.0.1' } });
  expect(normalizeInitOptions({ dashboard: false })).toEqual({ dashboard: false });
  expect(() => normalizeInitOptions({ dashboard: { port: 70000 } })).toThrow(RangeError);
  expect(() => normalizeInitOptions({ dashboard: { port: 70000 } })).toThrow(/'dashboard'.port must be an integer from 0 to 65535/);
  expect(() => normalizeInitOptions({ dashboard: { port: 1.5 } })).toThrow(/'dashboard'.port/);
  expect(() => normalizeInitOptions({ dashboard: { colour: 'red' } })).toThrow(/'dashboard' has no field 'colour'. Valid fields: port, host, token/);
  expect(() => normalizeInitOptions({ dashboard: 'yes' })).toThrow(/'dashboard' must be true, false or an object/);
  expect(() => normalizeInitOptions({ include_dashboard: { host: '' } })).toThrow(/'include_dashboard' \(dashboard\).host must be a host name/);
  expect(() => normalizeInitOptions({ dashboard: { token: '' } })).toThrow(/'dashboard'.token must be a non-empty string/);
  expect(() => normalizeInitOptions({ dashboard: true, include_dashboard: true })).toThrow(TypeError);
});

test('init refuses synchronously a dashboard beyond loopback without a token or key', () => {
  expect(() => init({ dashboard: { host: '0.0.0.0' } })).toThrow(/binds to 0.0.0.0: every request must then carry a token/);
});

test('loopback hosts', () => {
  for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) expect(isLoopbackHost(h)).toBe(true);
  for (const h of ['0.0.0.0', '10.0.0.1', 'example.com', '::']) expect(isLoopbackHost(h)).toBe(false);
});

test('raybus dashboard: --port, --host, --token, the security flags; bad ports are usage errors', () => {
  const A = ['--address', 'amqp://guest:guest@localhost:5672'];
  expect(parseArgs('dashboard', [...A, '--port', '9000', '--host', '0.0.0.0', '--token', 'abc', '--insecure', '--log-level', 'warn'])).toMatchObject({ port: 9000, host: '0.0.0.0', token: 'abc', insecure: true, logLevel: 'warn' });
  expect(parseArgs('dashboard', A)).not.toHaveProperty('port');
  expect(() => parseArgs('dashboard', [...A, '--port', '-1'])).toThrow(UsageError);
  expect(() => parseArgs('dashboard', [...A, '--port', '70000'])).toThrow(/--port must be from 0 to 65535/);
  expect(() => parseArgs('dashboard', [...A, '--json'])).toThrow(/unknown option '--json'/);
});
