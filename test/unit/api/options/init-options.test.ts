import { normalizeInitOptions, type InitOptions } from '../../../../src/api/options';

const INIT_CASES: ReadonlyArray<readonly [string, string, unknown, unknown]> = [
  ['address', 'address', 'amqp://guest:guest@localhost:5672/', 'amqp://guest:guest@localhost:5672/'],
  ['namespace', 'namespace', 'jobs', 'jobs'],
  ['runtimeEnv', 'runtime_env', { env_vars: { A: '1' } }, { envVars: { A: '1' } }],
  ['ignoreReinitError', 'ignore_reinit_error', true, true],
  ['logLevel', 'log_level', 'warn', 'warn'],
  ['logToDriver', 'log_to_driver', false, false],
  ['numCpus', 'num_cpus', 4, 4],
  ['numGpus', 'num_gpus', 2, 2],
  ['memory', 'memory', 2 ** 30, 2 ** 30],
  ['resources', 'resources', { disk: 1 }, { disk: 1 }],
  ['acceleratorType', 'accelerator_type', 'A100', 'A100'],
  ['clusterKey', 'cluster_key', 's3cret', 's3cret'],
  ['encrypt', 'encrypt', true, true],
  ['insecure', 'insecure', true, true],
  ['caFile', 'ca_file', '/etc/ssl/ca.pem', '/etc/ssl/ca.pem'],
];

describe('normalizeInitOptions', () => {
  it.each(INIT_CASES)('accepts %s and %s', (camel, snake, value, normalized) => {
    expect(normalizeInitOptions({ [camel]: value })).toEqual({ [camel]: normalized });
    expect(normalizeInitOptions({ [snake]: value })).toEqual({ [camel]: normalized });
  });

  it.each(INIT_CASES.filter(([camel, snake]) => camel !== snake))('rejects both spellings of %s', (camel, snake, value) => {
    expect(() => normalizeInitOptions({ [camel]: value, [snake]: value })).toThrow(/was given twice/);
  });

  it('checks the security options by type, naming them', () => {
    expect(() => normalizeInitOptions({ encrypt: 'yes' })).toThrow(/encrypt/);
    expect(() => normalizeInitOptions({ insecure: 1 })).toThrow(/insecure/);
    expect(() => normalizeInitOptions({ ca_file: '' })).toThrow(/ca_file/);
  });

  it('accepts no options', () => {
    expect(normalizeInitOptions({})).toEqual({});
  });

  it('lists the valid names for init', () => {
    const act = (): unknown => normalizeInitOptions({ local_mode: true });
    expect(act).toThrow(TypeError);
    expect(act).toThrow(/Invalid option 'local_mode' for init/);
    expect(act).toThrow(/ignoreReinitError \(ignore_reinit_error\)/);
    expect(act).toThrow(/clusterKey \(cluster_key\)/);
  });

  it('accepts the addresses of registered transports only, and lists them', () => {
    expect(normalizeInitOptions({ address: 'amqps://broker' })).toEqual({ address: 'amqps://broker' });
    expect(normalizeInitOptions({ address: 'nats://127.0.0.1:4222' })).toEqual({ address: 'nats://127.0.0.1:4222' });
    expect(() => normalizeInitOptions({ address: 'localhost:5672' })).toThrow(RangeError);
    expect(() => normalizeInitOptions({ address: 'http://x' })).toThrow(/must be the URL of a cluster's bus, one of amqp:\/\/, amqps:\/\/, memory:\/\/, nats:\/\//);
    expect(() => normalizeInitOptions({ address: 'amqp://' })).toThrow(RangeError);
    expect(() => normalizeInitOptions({ address: 5672 })).toThrow(TypeError);
  });

  it('does not echo credentials of a bad address', () => {
    expect(() => normalizeInitOptions({ address: 'http://user:hunter2@host' })).toThrow(/http:\/\/user:\*\*\*@host/);
    expect(() => normalizeInitOptions({ address: 'http://user:hunter2@host' })).not.toThrow(/hunter2/);
  });

  it('validates the other options', () => {
    expect(() => normalizeInitOptions({ logLevel: 'verbose' })).toThrow(
      /'logLevel' must be one of 'debug', 'info', 'warn', 'error', 'silent'/,
    );
    expect(() => normalizeInitOptions({ ignore_reinit_error: 1 })).toThrow(
      "The type of option 'ignore_reinit_error' (ignoreReinitError) must be boolean, but received number",
    );
    expect(() => normalizeInitOptions({ logToDriver: 'no' })).toThrow("The type of option 'logToDriver' must be boolean, but received string");
    expect(() => normalizeInitOptions({ namespace: '' })).toThrow(RangeError);
    expect(() => normalizeInitOptions({ clusterKey: '' })).toThrow(RangeError);
    expect(() => normalizeInitOptions({ numCpus: -1 })).toThrow('The quantity of resource numCpus cannot be negative');
    expect(() => normalizeInitOptions({ numGpus: 1.5 })).toThrow(RangeError);
    expect(() => normalizeInitOptions({ resources: { CPU: 1 } })).toThrow(/numCpus/);
    expect(() => normalizeInitOptions({ runtimeEnv: { pip: [] } })).toThrow(/runtimeEnv/);
  });

  it('types both spellings (compile-time check)', () => {
    const typed: InitOptions = { num_cpus: 2, logLevel: 'silent', runtime_env: { working_dir: '/srv' } };
    expect(normalizeInitOptions(typed)).toEqual({ numCpus: 2, logLevel: 'silent', runtimeEnv: { workingDir: '/srv' } });
  });
});
