/**
 * `raybus keygen` and the key options of the CLI: a key file holds the key on one line
 * (keygen writes 64 hex characters, readable by its owner only, never over an existing file);
 * `--encrypt` needs a key; `--insecure` and `--ca-file` are passed on.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { newClusterKey, parseKeygenArgs, runKeygen } from '../../../src/cli/keygen-command';
import { parseArgs, UsageError } from '../../../src/cli/args';

let dir: string;
let stderr: jest.SpyInstance;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raybus-keygen-'));
  stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => {
  stderr.mockRestore();
  rmSync(dir, { recursive: true, force: true });
  delete process.env.RAYBUS_CLUSTER_KEY;
});

test('a new key is 64 hex characters, different every time', () => {
  const a = newClusterKey();
  expect(a).toMatch(/^[0-9a-f]{64}$/);
  expect(newClusterKey()).not.toBe(a);
});

test('keygen --out writes one line, mode 600, and never overwrites a key', () => {
  expect(runKeygen(['--out', 'cluster.key'], dir)).toBe(0);
  const file = path.join(dir, 'cluster.key');
  expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(() => runKeygen(['--out', 'cluster.key'], dir)).toThrow(/exists already; not overwriting/);
  expect(() => parseKeygenArgs(['--out'])).toThrow(UsageError);
  expect(() => parseKeygenArgs(['--bits', '8'])).toThrow(/unknown option '--bits'/);
});

test('the key file it writes is what raybus start reads', () => {
  runKeygen(['--out', 'k'], dir);
  const key = readFileSync(path.join(dir, 'k'), 'utf8').trim();
  const args = parseArgs('start', ['--address', 'amqp://127.0.0.1', '--cluster-key-file', 'k', '--encrypt'], dir);
  expect(args.clusterKey).toBe(key);
  expect(args.encrypt).toBe(true);
  expect(args.keyFileShared).toBeUndefined();
});

test('a key file must hold one line; one readable by others is flagged', () => {
  writeFileSync(path.join(dir, 'two'), 'abc\ndef\n', { mode: 0o600 });
  expect(() => parseArgs('status', ['--address', 'amqp://127.0.0.1', '--cluster-key-file', 'two'], dir)).toThrow(/must hold the key on one line \(it has 2\)/);
  writeFileSync(path.join(dir, 'empty'), '\n\n', { mode: 0o600 });
  expect(() => parseArgs('status', ['--address', 'amqp://127.0.0.1', '--cluster-key-file', 'empty'], dir)).toThrow(/is empty/);
  writeFileSync(path.join(dir, 'open'), 'k'.repeat(64), { mode: 0o644 });
  expect(parseArgs('list', ['nodes', '--address', 'amqp://127.0.0.1', '--cluster-key-file', 'open'], dir).keyFileShared).toBe(true);
});

test('--encrypt needs a key; --insecure and --ca-file are taken by start, status and list', () => {
  expect(() => parseArgs('start', ['--address', 'amqp://127.0.0.1', '--encrypt'], dir)).toThrow(/--encrypt needs a cluster key/);
  process.env.RAYBUS_CLUSTER_KEY = 'from-env';
  const a = parseArgs('status', ['--address', 'amqp://10.0.0.1', '--encrypt', '--insecure', '--ca-file', 'ca.pem'], dir);
  expect(a).toMatchObject({ clusterKey: 'from-env', encrypt: true, insecure: true, caFile: path.join(dir, 'ca.pem') });
});
