import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDatabaseUrl, redactText, redactUrl, urlSecrets } from '../../src/db/url.js';
import { E_BAD_URL, FerryError } from '../../src/errors.js';

const cwd = '/srv/app';

describe('parseDatabaseUrl: postgres forms', () => {
  const cases: Array<[input: string, connectionString: string, redacted: string]> = [
    ['postgres://u:pw@db:5432/app', 'postgresql://u:pw@db:5432/app', 'postgresql://u:****@db:5432/app'],
    ['postgresql://u:pw@db/app', 'postgresql://u:pw@db/app', 'postgresql://u:****@db/app'],
    ['POSTGRES://u@db/app', 'postgresql://u@db/app', 'postgresql://u@db/app'],
    ['postgresql+asyncpg://u:pw@db/app', 'postgresql://u:pw@db/app', 'postgresql://u:****@db/app'],
    ['postgresql+psycopg2://u:pw@db/app', 'postgresql://u:pw@db/app', 'postgresql://u:****@db/app'],
    ['postgresql+psycopg://u:pw@db/app', 'postgresql://u:pw@db/app', 'postgresql://u:****@db/app'],
    ['postgres+pg8000://u:pw@db/app', 'postgresql://u:pw@db/app', 'postgresql://u:****@db/app'],
    [
      'postgresql+asyncpg://u:pw@db/app?sslmode=require&application_name=bot',
      'postgresql://u:pw@db/app?sslmode=require&application_name=bot',
      'postgresql://u:****@db/app?sslmode=require&application_name=bot',
    ],
    ['postgresql://db/app?password=pw', 'postgresql://db/app?password=pw', 'postgresql://db/app?password=****'],
    [
      'postgresql:///app?host=/var/run/postgresql',
      'postgresql:///app?host=/var/run/postgresql',
      'postgresql:///app?host=/var/run/postgresql',
    ],
    ['  postgres://u:pw@db/app\n', 'postgresql://u:pw@db/app', 'postgresql://u:****@db/app'],
    ['postgres://u:p%40ss%2Fw%23rd@db/app', 'postgresql://u:p%40ss%2Fw%23rd@db/app', 'postgresql://u:****@db/app'],
  ];
  it.each(cases)('%s', (input, connectionString, redacted) => {
    expect(parseDatabaseUrl(input, cwd)).toEqual({ backend: 'postgres', connectionString, redacted });
  });
});

describe('parseDatabaseUrl: embedded forms', () => {
  const cases: Array<[input: string, dataDir: string | null]> = [
    ['pglite:./data', path.resolve(cwd, 'data')],
    ['pglite:data/pg', path.resolve(cwd, 'data/pg')],
    ['pglite:/var/lib/ferry', '/var/lib/ferry'],
    ['pglite://./data', path.resolve(cwd, 'data')],
    ['pglite:///var/lib/ferry', '/var/lib/ferry'],
    ['PGLITE:../x', path.resolve(cwd, '../x')],
    ['memory://', null],
    ['memory://scratch', null],
  ];
  it.each(cases)('%s', (input, dataDir) => {
    const parsed = parseDatabaseUrl(input, cwd);
    expect(parsed).toEqual({
      backend: 'pglite',
      dataDir,
      redacted: dataDir === null ? 'memory://' : `pglite:${dataDir}`,
    });
  });

  it('resolves relative dirs against process.cwd() by default', () => {
    expect(parseDatabaseUrl('pglite:x')).toMatchObject({ dataDir: path.resolve('x') });
  });
});

function badUrl(input: string): FerryError {
  try {
    parseDatabaseUrl(input, cwd);
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe(E_BAD_URL);
    return err as FerryError;
  }
  throw new Error(`expected ${input} to be rejected`);
}

describe('parseDatabaseUrl: rejected input', () => {
  const cases: Array<[input: string, mentions: RegExp, secret: string | null]> = [
    ['mysql://root:hunter2@db/app', /scheme "mysql:".*PostgreSQL only/, 'hunter2'],
    ['mariadb://root:hunter2@db/app', /scheme "mariadb:"/, 'hunter2'],
    ['sqlite:///x.db', /not SQLite.*pglite:<dir>/, null],
    ['sqlite+aiosqlite:///x.db', /not SQLite/, null],
    ['redis://:hunter2@cache:6379', /scheme "redis:"/, 'hunter2'],
    ['localhost:5432/app', /scheme "localhost:"/, null],
    ['just some words', /is not a database URL/, null],
    ['', /empty/, null],
    ['pglite:', /names no directory/, null],
    ['pglite://', /names no directory/, null],
    ['postgres://u:hunter2@db:notaport/app', /Malformed database URL/, 'hunter2'],
    ['postgres://u:hunter2@[::1/app', /Malformed/, 'hunter2'],
    ['host=db user=u password=hunter2 dbname=app', /not a database URL/, 'hunter2'],
  ];
  it.each(cases)('%s', (input, mentions, secret) => {
    const err = badUrl(input);
    expect(err.message).toMatch(mentions);
    expect(err.message).toMatch(/postgres:\/\//); // names the accepted forms
    if (secret) {
      expect(err.message).not.toContain(secret);
      expect(JSON.stringify(err.details)).not.toContain(secret);
      expect(String(err.stack)).not.toContain(secret);
    }
    // new URL()'s TypeError would carry the raw input in `.input`.
    expect(err.cause).toBeUndefined();
  });
});

describe('redactUrl', () => {
  const cases: Array<[input: string, expected: string]> = [
    ['postgres://u:pw@db/app', 'postgres://u:****@db/app'],
    ['postgres://u@db/app', 'postgres://u@db/app'],
    ['postgres://db/app', 'postgres://db/app'],
    ['postgres://u:p%40ss@db/app', 'postgres://u:****@db/app'],
    // Unencoded specials: the URL does not even parse, the password must still go.
    ['postgres://u:p@ss/w#rd?x@db:5432/app', 'postgres://u:****@db:5432/app'],
    ['postgres://u:pa ss@db/app', 'postgres://u:****@db/app'],
    ['postgres://u:pw@db/app?application_name=a@b', 'postgres://u:****@db/app?application_name=a@b'],
    ['postgres://u:pw@db/app?sslpassword=x&password=y', 'postgres://u:****@db/app?sslpassword=****&password=****'],
    ['mysql://root:pw@db', 'mysql://root:****@db'],
    ['host=db password=secret user=u', 'host=db password=**** user=u'],
    ["host=db password='sec ret' user=u", 'host=db password=**** user=u'],
    ['not a url at all', 'not a url at all'],
    ['://:pw@', '://:****@'],
  ];
  it.each(cases)('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('redactText / urlSecrets', () => {
  it('scrubs long secrets raw and percent-encoded', () => {
    const secret = 'p@ss/w rd-long-enough';
    const text = `failed for p@ss/w rd-long-enough and p%40ss%2Fw%20rd-long-enough`;
    expect(redactText(text, [secret])).toBe('failed for **** and ****');
  });

  it('never searches for short or empty secrets', () => {
    expect(redactText('hello', ['', 'l', 'hello'])).toBe('hello');
  });

  it('extracts the password as written and decoded', () => {
    expect(urlSecrets('postgresql://u:p%21w@db/app')).toEqual(['p%21w', 'p!w']);
    expect(urlSecrets('postgresql://u@db/app')).toEqual([]);
    expect(urlSecrets('garbage')).toEqual([]);
  });
});
