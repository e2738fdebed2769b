/**
 * User error classes crossing a process boundary: an error whose class a module of remote
 * code exports travels with `[module, export]` and comes back as that class, inside a
 * RayTaskError that is an instance of it too (Ray's RayTaskError.as_instanceof_cause;
 * test_failure.py::test_failed_task: `isinstance(e, CustomException)` and
 * `isinstance(e, RayTaskError)`). Both "processes" are this one: the class is found again by
 * its module in the CommonJS module cache.
 */
import * as path from 'node:path';
import { decodeError, encodeError, encodeTaskError } from '../../../src/serialization/error-codec';
import { noteCodeModule, originOf } from '../../../src/serialization/error-classes';
import { RayTaskError } from '../../../src/errors/ray-errors';

const FIXTURE = path.resolve(__dirname, '../../fixtures/error-classes-plain.js');
const classes = require(FIXTURE) as {
  CustomError: new (m: string) => RangeError;
  InsufficientFunds: new (n: number) => Error & { needed: number };
  makeNotExported(): Error;
};

beforeAll(() => noteCodeModule(FIXTURE));

test('an exported class travels by identity and comes back as itself, with its fields', () => {
  const wire = encodeError(new classes.InsufficientFunds(5));
  expect(wire.origin).toEqual([FIXTURE, 'InsufficientFunds']);
  const back = decodeError(wire) as Error & { needed: number };
  expect(back).toBeInstanceOf(classes.InsufficientFunds);
  expect(back).toBeInstanceOf(Error);
  expect([back.name, back.message, back.needed]).toEqual(['InsufficientFunds', 'need 5 more', 5]);
  expect(originOf(back)).toEqual([FIXTURE, 'InsufficientFunds']);
});

test('the task error is a RayTaskError and an instance of the user class (a subclass of a builtin too)', () => {
  const err = decodeError(encodeTaskError('f', 't1', new classes.CustomError('This function failed.')));
  expect(err).toBeInstanceOf(RayTaskError);
  expect(err).toBeInstanceOf(classes.CustomError);
  expect(err).toBeInstanceOf(RangeError);
  expect(err.message).toContain('This function failed.');
  expect((err as RayTaskError).cause).toBeInstanceOf(classes.CustomError);
  // Fields of the cause read through the task error, as Ray's dual class proxies to its cause.
  const funds = decodeError(encodeTaskError('pay', 't2', new classes.InsufficientFunds(7))) as RayTaskError & { needed: number };
  expect(funds).toBeInstanceOf(classes.InsufficientFunds);
  expect(funds.needed).toBe(7);
  expect(String(funds.name)).toBe('RayTaskError(InsufficientFunds)');
});

test('a class that no module of remote code exports travels as data, as before', () => {
  const wire = encodeError(classes.makeNotExported());
  expect(wire.origin).toBeUndefined();
  const back = decodeError(wire);
  expect(back.constructor).toBe(Error);
  expect(back.message).toBe('hidden');
  // An origin that does not resolve here (another process's module) is ignored.
  const foreign = decodeError({ name: 'X', message: 'm', origin: ['/nowhere/mod.js', 'X'] });
  expect(foreign.constructor).toBe(Error);
  expect(foreign.name).toBe('X');
});
