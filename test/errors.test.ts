import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { E_DURATION, toMs } from '../src/duration.js';
import { E_CONSTRAINT, FerryError, isFerryError } from '../src/errors.js';

describe('isFerryError', () => {
  it('is true for a FerryError, and with a code only for that code', () => {
    const err: unknown = new FerryError(E_CONSTRAINT, 'users: unique constraint violated', {
      details: { sqlstate: '23505', table: 'users', constraint: 'users_email_key' },
    });
    expect(isFerryError(err)).toBe(true);
    expect(isFerryError(err, 'E_CONSTRAINT')).toBe(true);
    expect(isFerryError(err, 'E_INVALID_VALUE')).toBe(false);
    if (!isFerryError(err, 'E_CONSTRAINT')) throw new Error('unreachable');
    expect(err.details.constraint).toBe('users_email_key');
  });

  it('is false for anything else, even an Error carrying the same code', () => {
    const lookalike = Object.assign(new Error('unique violation'), { code: 'E_CONSTRAINT', details: {} });
    for (const value of [lookalike, new Error('x'), { code: 'E_CONSTRAINT' }, 'E_CONSTRAINT', null, undefined]) {
      expect(isFerryError(value)).toBe(false);
      expect(isFerryError(value, 'E_CONSTRAINT')).toBe(false);
    }
  });

  it('narrows what Ferry throws', () => {
    let caught: unknown;
    try {
      toMs('soon' as never, 'ttl');
    } catch (err) {
      caught = err;
    }
    expect(isFerryError(caught, E_DURATION)).toBe(true);
    expect(isFerryError(caught, E_DURATION) && caught.details.option).toBe('ttl');
  });
});

describe('FerryError instanceof', () => {
  // FerryError defines Symbol.hasInstance (for typing); it must answer exactly as plain instanceof.
  it('is the ordinary prototype-chain check', () => {
    class Sub extends FerryError {}
    expect(new FerryError('E_QUERY', 'x') instanceof FerryError).toBe(true);
    expect(new Sub('E_QUERY', 'x') instanceof FerryError).toBe(true);
    expect(new FerryError('E_QUERY', 'x') instanceof Sub).toBe(false);
    expect(new FerryError('E_QUERY', 'x') instanceof Error).toBe(true);
    expect(Object.create(FerryError.prototype) instanceof FerryError).toBe(true);
    expect(new Error('x') instanceof FerryError).toBe(false);
    expect((null as unknown) instanceof FerryError).toBe(false);
    expect(('E_QUERY' as unknown) instanceof FerryError).toBe(false);
  });
});

describe('FerryErrorCode', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

  // test/types/error-codes.types.ts proves FerryErrorCode equals the E_* constants of the modules it
  // imports; this makes sure it imports every module of src/ that declares one, so a new module of
  // codes cannot be left out of the union unnoticed.
  it('the type test covers every module of src/ that declares E_* constants', () => {
    const declaring = (readdirSync(path.join(root, 'src'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /^export const E_[A-Z_]+\b/m.test(readFileSync(path.join(root, 'src', f), 'utf8')))
      .map((f) => `src/${f.split(path.sep).join('/')}`)
      .sort();
    const typeTest = readFileSync(path.join(root, 'test/types/error-codes.types.ts'), 'utf8');
    const covered = [...typeTest.matchAll(/^import (?:type )?\* as \w+ from '\.\.\/\.\.\/(src\/[\w/-]+)\.js';$/gm)]
      .map((m) => `${m[1]}.ts`)
      .sort();
    expect(declaring.length).toBeGreaterThan(8);
    expect(covered).toEqual(declaring);
  });
});
