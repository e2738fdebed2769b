/** The state commands' arguments: misuse is one clear line (a UsageError), before any connection. */
import { parseArgs, UsageError } from '../../../src/cli/args';

const A = ['--address', 'amqp://guest:guest@localhost:5672'];

test('list: what, filters (= and !=, repeatable), detail, limit, cursor, json', () => {
  const a = parseArgs('list', ['tasks', ...A, '--filter', 'state=RUNNING', '--filter', 'name!=f', '--detail', '--limit', '5', '--cursor', 'abc', '--json']);
  expect(a).toMatchObject({ what: 'tasks', filters: [['state', '=', 'RUNNING'], ['name', '!=', 'f']], detail: true, limit: 5, cursor: 'abc', json: true });
  expect(parseArgs('list', ['workers', ...A])).toMatchObject({ what: 'workers', filters: [], detail: false });
});

test('list: unknown kinds and columns, bad limits and filters are usage errors', () => {
  expect(() => parseArgs('list', ['widgets', ...A])).toThrow(/what to list: tasks \| actors \| nodes \| workers \| objects \| placement-groups \(got 'widgets'\)/);
  expect(() => parseArgs('list', ['tasks', ...A, '--filter', 'colour=red'])).toThrow(UsageError);
  expect(() => parseArgs('list', ['tasks', ...A, '--filter', 'colour=red'])).toThrow(/unknown filter column 'colour'. Columns of tasks: taskId/);
  expect(() => parseArgs('list', ['tasks', ...A, '--filter', 'state'])).toThrow(/--filter must be column=value or column!=value/);
  expect(() => parseArgs('list', ['tasks', ...A, '--limit', '0'])).toThrow(/--limit must be an integer from 1 to 10000/);
});

test('summary, logs, timeline and --log-level', () => {
  expect(parseArgs('summary', ['actors', ...A])).toMatchObject({ summarize: 'actors' });
  expect(() => parseArgs('summary', ['nodes', ...A])).toThrow(/what to summarize: tasks \| actors/);
  expect(parseArgs('logs', [...A, '--actor', 'a1', '--follow'])).toMatchObject({ actor: 'a1', follow: true });
  expect(() => parseArgs('logs', [...A])).toThrow(/give --actor ID or --task ID/);
  expect(() => parseArgs('logs', [...A, '--actor', 'a', '--task', 't'])).toThrow(/give --actor ID or --task ID/);
  expect(parseArgs('timeline', [...A, '--out', 'trace.json'])).toMatchObject({ out: 'trace.json' });
  expect(() => parseArgs('timeline', [...A])).toThrow(/needs --out FILE/);
  expect(parseArgs('status', [...A, '--log-level', 'silent'])).toMatchObject({ logLevel: 'silent' });
  expect(() => parseArgs('status', [...A, '--log-level', 'loud'])).toThrow(/--log-level must be one of debug, info, warn, error, silent/);
});
