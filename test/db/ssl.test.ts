import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.js';
import { resolveSsl } from '../../src/db/ssl.js';
import { E_CONFIG, E_CONNECT } from '../../src/errors.js';
import { adminUrl, TEST_BACKENDS } from '../support/backends-config.js';
import { expectFerryError } from '../support/expect-error.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-ssl-'));
const ca = join(dir, 'root.crt');
writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = 'postgresql://u:pw@db.internal:5432/app';

describe('resolveSsl: sslmode as libpq documents it', () => {
  const cases: Array<[query: string, ssl: unknown, fallback: unknown]> = [
    ['sslmode=disable', false, null],
    ['sslmode=allow', false, { rejectUnauthorized: false }],
    ['sslmode=prefer', { rejectUnauthorized: false }, false],
    ['sslmode=require', { rejectUnauthorized: false }, null],
    ['sslmode=no-verify', { rejectUnauthorized: false }, null],
    ['sslmode=verify-full', {}, null],
    ['sslmode=REQUIRE', { rejectUnauthorized: false }, null],
  ];
  it.each(cases)('%s', (query, ssl, fallback) => {
    const r = resolveSsl(`${base}?${query}&application_name=x`, {});
    expect(r.ssl).toEqual(ssl);
    expect(r.fallback).toEqual(fallback);
    // pg never sees sslmode, so it neither reinterprets it nor prints its SECURITY WARNING.
    expect(r.url).toBe(`${base}?application_name=x`);
  });

  it('require with a root CA verifies the chain but not the host name (verify-ca), as libpq does', () => {
    for (const mode of ['require', 'verify-ca']) {
      const r = resolveSsl(`${base}?sslmode=${mode}&sslrootcert=${ca}`, {});
      expect(r.ssl).toMatchObject({ ca: expect.stringContaining('not really') });
      expect((r.ssl as { rejectUnauthorized?: boolean }).rejectUnauthorized).toBeUndefined();
      expect((r.ssl as { checkServerIdentity: () => unknown }).checkServerIdentity()).toBeUndefined();
      expect(r.url).toBe(base);
    }
    const full = resolveSsl(`${base}?sslmode=verify-full&sslrootcert=${ca}`, {});
    expect(full.ssl).toEqual({ ca: expect.stringContaining('not really') });
  });

  it('reads PGSSLMODE when the URL has no sslmode, and leaves pg alone when neither is set', () => {
    expect(resolveSsl(base, { PGSSLMODE: 'disable' })).toMatchObject({ ssl: false, mode: 'disable' });
    expect(resolveSsl(`${base}?ssl=true`, {})).toEqual({
      url: `${base}?ssl=true`,
      ssl: undefined,
      mode: null,
      fallback: null,
    });
  });

  it('rejects unknown modes, verify-ca without a root CA and unreadable files, without the password', () => {
    const bad = [
      [`${base}?sslmode=required`, /Unknown SSL mode sslmode=required in postgresql:\/\/u:\*\*\*\*@db/],
      [`${base}?sslmode=verify-ca`, /needs the root certificate.*sslrootcert/],
      [`${base}?sslmode=require&sslrootcert=${join(dir, 'missing.crt')}`, /Cannot read sslrootcert=.*missing\.crt/],
    ] as const;
    for (const [url, message] of bad) {
      let caught: unknown;
      try {
        resolveSsl(url, {});
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: E_CONFIG, message: expect.stringMatching(message) });
      expect(String((caught as Error).message)).not.toContain(':pw@');
    }
  });
});

describe.skipIf(!TEST_BACKENDS.includes('postgres'))('sslmode against a server without SSL [postgres]', () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  beforeAll(() => {
    process.on('warning', onWarning);
  });
  afterAll(() => {
    process.off('warning', onWarning);
  });
  const url = (mode: string) => {
    const u = new URL(adminUrl());
    u.searchParams.set('sslmode', mode);
    return u.href;
  };

  it.each(['disable', 'allow', 'prefer'])('sslmode=%s connects (prefer falls back to plain)', async (mode) => {
    const handle = await openDatabase({ url: url(mode), env: {} });
    try {
      expect(await handle.ping()).toBeGreaterThanOrEqual(0);
      const again = await handle.session(async (s) => (await s.query('select 1 as one')).rows);
      expect(again).toEqual([{ one: 1 }]);
    } finally {
      await handle.close();
    }
  });

  it.each(['require', 'verify-full', 'no-verify'])('sslmode=%s is E_CONNECT saying what to change', async (mode) => {
    await expectFerryError(
      openDatabase({ url: url(mode), env: {} }),
      E_CONNECT,
      /the server does not accept SSL connections\. Use sslmode=prefer or sslmode=disable/,
    );
  });

  it('the driver printed no SECURITY WARNING (or any warning)', () => {
    expect(warnings).toEqual([]);
  });
});
