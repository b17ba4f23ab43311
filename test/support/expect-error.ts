import { expect } from 'vitest';
import { FerryError, type FerryErrorCode } from '../../src/errors.js';

/** Await a promise that must reject with a FerryError, and return that error. */
export async function rejection(promise: Promise<unknown>): Promise<FerryError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection, but the call succeeded');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FerryError);
  return err as FerryError;
}

/** `rejection`, also checking the stable code and, optionally, the message. */
export async function expectFerryError(
  promise: Promise<unknown>,
  code: FerryErrorCode,
  message?: RegExp,
): Promise<FerryError> {
  const err = await rejection(promise);
  expect(err.code).toBe(code);
  if (message) expect(err.message).toMatch(message);
  return err;
}
