import * as path from 'node:path';
import {
  DEFAULT_ENV_KEY,
  canonicalRuntimeEnv,
  effectiveRuntimeEnv,
  resolveModuleSpecifier,
  resolveRuntimeEnvPaths,
  runtimeEnvKey,
} from '../../../src/protocol/runtime-env';
import { normalizeRuntimeEnv } from '../../../src/api/options';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('canonicalRuntimeEnv', () => {
  it('sorts env vars, drops empty fields, keeps module order', () => {
    const c = canonicalRuntimeEnv({ envVars: { B: '2', A: '1' }, modules: ['/z.js', '/a.js'], workingDir: '/w' });
    expect(c).toEqual({ envVars: { A: '1', B: '2' }, workingDir: '/w', modules: ['/z.js', '/a.js'] });
    expect(Object.keys(c!.envVars!)).toEqual(['A', 'B']);
    expect(canonicalRuntimeEnv({ envVars: {}, modules: [] })).toBeUndefined();
    expect(canonicalRuntimeEnv({})).toBeUndefined();
    expect(canonicalRuntimeEnv(null)).toBeUndefined();
    expect(canonicalRuntimeEnv(undefined)).toBeUndefined();
  });
});

describe('runtimeEnvKey', () => {
  it('is the default key for the default env, however it is written', () => {
    expect(runtimeEnvKey(undefined)).toBe(DEFAULT_ENV_KEY);
    expect(runtimeEnvKey({})).toBe(DEFAULT_ENV_KEY);
    expect(runtimeEnvKey({ envVars: {}, modules: [] })).toBe(DEFAULT_ENV_KEY);
  });

  it('is stable under key order and a sha1 otherwise', () => {
    const a = runtimeEnvKey({ envVars: { A: '1', B: '2' }, workingDir: '/w' });
    const b = runtimeEnvKey({ workingDir: '/w', envVars: { B: '2', A: '1' } });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{40}$/);
  });

  it('differs when any value differs, and when the module order differs', () => {
    const base = runtimeEnvKey({ envVars: { A: '1' } });
    expect(runtimeEnvKey({ envVars: { A: '2' } })).not.toBe(base);
    expect(runtimeEnvKey({ envVars: { A: '1' }, workingDir: '/w' })).not.toBe(base);
    expect(runtimeEnvKey({ modules: ['/a.js', '/b.js'] })).not.toBe(runtimeEnvKey({ modules: ['/b.js', '/a.js'] }));
    // A value that looks like another field's JSON cannot collide.
    expect(runtimeEnvKey({ envVars: { workingDir: '/w' } })).not.toBe(runtimeEnvKey({ workingDir: '/w' }));
  });
});

describe('resolveModuleSpecifier', () => {
  it('resolves relative paths against the submitter cwd', () => {
    expect(resolveModuleSpecifier('./setup.js', '/srv/app')).toBe(path.resolve('/srv/app', 'setup.js'));
    expect(resolveModuleSpecifier('../lib/x.mjs', '/srv/app')).toBe(path.resolve('/srv/lib/x.mjs'));
  });

  it('keeps absolute paths, URLs and builtins', () => {
    expect(resolveModuleSpecifier('/abs/m.js', '/srv')).toBe('/abs/m.js');
    expect(resolveModuleSpecifier('file:///abs/m.mjs', '/srv')).toBe('file:///abs/m.mjs');
    expect(resolveModuleSpecifier('node:fs', '/srv')).toBe('node:fs');
    expect(resolveModuleSpecifier('fs', '/srv')).toBe('fs');
  });

  it('resolves package names from the working dir, then the cwd; leaves unknown ones as written', () => {
    const fromCwd = resolveModuleSpecifier('rxjs', ROOT);
    expect(path.isAbsolute(fromCwd)).toBe(true);
    expect(fromCwd).toContain(`${path.sep}node_modules${path.sep}rxjs${path.sep}`);
    // The working dir has no node_modules: falls back to the cwd.
    expect(resolveModuleSpecifier('rxjs', ROOT, '/')).toBe(fromCwd);
    expect(resolveModuleSpecifier('no-such-package-raybus-test', ROOT)).toBe('no-such-package-raybus-test');
  });
});

describe('resolveRuntimeEnvPaths', () => {
  it('makes workingDir absolute and resolves modules against the cwd', () => {
    const env = resolveRuntimeEnvPaths({ envVars: { A: 'a' }, workingDir: 'sub', modules: ['./m.js'] }, '/srv/app');
    expect(env).toEqual({ envVars: { A: 'a' }, workingDir: path.resolve('/srv/app/sub'), modules: [path.resolve('/srv/app/m.js')] });
  });
});

describe('effectiveRuntimeEnv', () => {
  it('is undefined for the default env', () => {
    expect(effectiveRuntimeEnv(undefined, undefined)).toBeUndefined();
    expect(effectiveRuntimeEnv(null, normalizeRuntimeEnv({ envVars: {} }))).toBeUndefined();
  });

  it("merges the task's env over the parent's: fields override, envVars key by key (task wins)", () => {
    const job = normalizeRuntimeEnv({ envVars: { A: 'job', B: 'job' }, workingDir: '/job' });
    const task = normalizeRuntimeEnv({ env_vars: { B: 'task', C: 'task' } });
    const eff = effectiveRuntimeEnv(job, task, '/cwd')!;
    expect(eff.env).toEqual({ envVars: { A: 'job', B: 'task', C: 'task' }, workingDir: path.resolve('/job') });
    expect(eff.key).toBe(runtimeEnvKey(eff.env));
    const over = effectiveRuntimeEnv(job, normalizeRuntimeEnv({ workingDir: '/task' }), '/cwd')!;
    expect(over.env).toEqual({ envVars: { A: 'job', B: 'job' }, workingDir: path.resolve('/task') });
  });

  it("inherits the parent's env when the work sets none", () => {
    const parent = normalizeRuntimeEnv({ envVars: { P: 'p' } });
    expect(effectiveRuntimeEnv(parent, undefined, '/cwd')!.env).toEqual({ envVars: { P: 'p' } });
    expect(effectiveRuntimeEnv(undefined, parent, '/cwd')!.key).toBe(effectiveRuntimeEnv(parent, undefined, '/cwd')!.key);
  });

  it('is cached per (env, parent, cwd)', () => {
    const own = normalizeRuntimeEnv({ envVars: { X: '1' }, modules: ['./m.js'] });
    const a = effectiveRuntimeEnv(undefined, own, '/one');
    expect(effectiveRuntimeEnv(undefined, own, '/one')).toBe(a);
    const b = effectiveRuntimeEnv(undefined, own, '/two');
    expect(b).not.toBe(a);
    expect(b!.env.modules).toEqual([path.resolve('/two/m.js')]);
  });
});
