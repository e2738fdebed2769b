import { mergeRuntimeEnv, normalizeRuntimeEnv, type RuntimeEnvOptions } from '../../../../src/api/options';

describe('normalizeRuntimeEnv', () => {
  it('accepts both spellings and returns camelCase, frozen', () => {
    const env = normalizeRuntimeEnv({ env_vars: { A: 'a' }, working_dir: '/w', modules: ['lodash', './setup.js'] });
    expect(env).toEqual({ envVars: { A: 'a' }, workingDir: '/w', modules: ['lodash', './setup.js'] });
    expect(Object.isFrozen(env)).toBe(true);
    expect(Object.isFrozen(env.envVars)).toBe(true);
    expect(Object.isFrozen(env.modules)).toBe(true);
    expect(normalizeRuntimeEnv({ envVars: { A: 'a' }, workingDir: '/w' })).toEqual({ envVars: { A: 'a' }, workingDir: '/w' });
    expect(normalizeRuntimeEnv({})).toEqual({});
  });

  it('copies its input', () => {
    const vars: Record<string, string> = { A: 'a' };
    const env = normalizeRuntimeEnv({ envVars: vars });
    vars.A = 'changed';
    expect(env.envVars).toEqual({ A: 'a' });
  });

  it('rejects both spellings of a field', () => {
    expect(() => normalizeRuntimeEnv({ envVars: {}, env_vars: {} })).toThrow(/'runtimeEnv.envVars' was given twice/);
    expect(() => normalizeRuntimeEnv({ workingDir: '/a', working_dir: '/b' })).toThrow(/given twice/);
  });

  it('names unknown fields and lists the valid ones', () => {
    const act = (): unknown => normalizeRuntimeEnv({ pip: ['requests'] });
    expect(act).toThrow(TypeError);
    expect(act).toThrow(/Invalid field 'runtimeEnv.pip' for runtimeEnv/);
    expect(act).toThrow(/Valid fields are: envVars \(env_vars\), workingDir \(working_dir\), modules/);
    expect(() => normalizeRuntimeEnv({ py_modules: [] })).toThrow(/Use 'modules'/);
    expect(() => normalizeRuntimeEnv({ foo: 1 })).toThrow(/Invalid field 'runtimeEnv.foo'/);
  });

  it('type-checks values', () => {
    expect(() => normalizeRuntimeEnv({ envVars: { A: 1 } })).toThrow(
      "The type of option 'runtimeEnv.envVars.A' must be string, but received number",
    );
    expect(() => normalizeRuntimeEnv({ env_vars: { A: 1 } })).toThrow(/'runtimeEnv.env_vars.A' \(runtimeEnv.envVars.A\)/);
    expect(() => normalizeRuntimeEnv({ envVars: ['A=1'] })).toThrow(TypeError);
    expect(() => normalizeRuntimeEnv({ envVars: { 'A=B': 'x' } })).toThrow(RangeError);
    expect(() => normalizeRuntimeEnv({ envVars: { '': 'x' } })).toThrow(RangeError);
    expect(() => normalizeRuntimeEnv({ workingDir: 1 })).toThrow(TypeError);
    expect(() => normalizeRuntimeEnv({ workingDir: '' })).toThrow(RangeError);
    expect(() => normalizeRuntimeEnv({ modules: 'lodash' })).toThrow(TypeError);
    expect(() => normalizeRuntimeEnv({ modules: [1] })).toThrow(/'runtimeEnv.modules\[0\]' must be a module specifier/);
    expect(() => normalizeRuntimeEnv({ modules: [''] })).toThrow(RangeError);
    expect(() => normalizeRuntimeEnv({ workingDir: null })).toThrow(/cannot be null/);
    expect(() => normalizeRuntimeEnv('x')).toThrow(TypeError);
  });

  it('types both spellings (compile-time check)', () => {
    const typed: RuntimeEnvOptions = { env_vars: { A: 'a' }, workingDir: '/w' };
    // @ts-expect-error env var values must be strings
    const bad: RuntimeEnvOptions = { envVars: { A: 1 } };
    expect(normalizeRuntimeEnv(typed)).toEqual({ envVars: { A: 'a' }, workingDir: '/w' });
    expect(bad).toBeDefined();
  });
});

describe('mergeRuntimeEnv', () => {
  // Ray: docs handling-dependencies.rst "Inheritance" example (env_vars merged, other fields replaced)
  it('overrides field by field and merges envVars key by key, the task winning', () => {
    const job = normalizeRuntimeEnv({ envVars: { A: 'a', B: 'b' }, workingDir: '/job', modules: ['x'] });
    const task = normalizeRuntimeEnv({ envVars: { B: 'new', C: 'c' }, modules: ['y'] });
    const merged = mergeRuntimeEnv(job, task);
    expect(merged).toEqual({ envVars: { A: 'a', B: 'new', C: 'c' }, workingDir: '/job', modules: ['y'] });
    expect(Object.isFrozen(merged)).toBe(true);
    expect(job.envVars).toEqual({ A: 'a', B: 'b' });
  });

  it('handles a missing side', () => {
    const env = normalizeRuntimeEnv({ envVars: { A: 'a' } });
    expect(mergeRuntimeEnv(env, null)).toEqual(env);
    expect(mergeRuntimeEnv(undefined, env)).toEqual(env);
    expect(mergeRuntimeEnv(null, undefined)).toEqual({});
    expect(mergeRuntimeEnv({ workingDir: '/a' }, { envVars: { A: 'a' } })).toEqual({ workingDir: '/a', envVars: { A: 'a' } });
  });
});
