import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { sql } from 'kysely';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Ferry } from '../../src/connect.js';
import type { DbHandle } from '../../src/db/open.js';
import { defineImport } from '../../src/import/define.js';
import { runImport } from '../../src/import/loader.js';
import type { Source, SourceRecord } from '../../src/import/source.js';
import {
  check,
  sql as ddl,
  defineSchema,
  renderCreateSql,
  table,
  text,
  uuid,
  varchar,
} from '../../src/schema/index.js';
import { validateValues } from '../../src/schema/validate.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { resetPublicSchema } from '../support/schema-reset.js';

/** Accounts with a password hash and an API token, both `.sensitive()`. */
const accounts = table(
  'accounts',
  {
    id: uuid().primaryKey(),
    username: varchar(40).notNull().unique(),
    display_name: varchar(12).notNull(),
    password_hash: varchar(64).notNull().sensitive(),
    api_token: text().unique().sensitive(),
  },
  () => [check('accounts_display_name_check', ddl`display_name <> 'banned'`)],
);
const model = { accounts };
const schema = defineSchema(model);

const HASH = '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW';
const hashOf = (i: number) => `${HASH.slice(0, -4)}${String(i).padStart(4, '0')}`;

interface Legacy {
  name: string;
  display: string;
  pw: string;
  token?: string;
  password_hash?: string;
}

function source(items: Legacy[]): Source {
  return {
    label: 'array',
    async *records(): AsyncGenerator<SourceRecord> {
      for (const [index, value] of items.entries()) yield { kind: 'record', value, loc: { source: 'array', index } };
    },
    files: async () => [],
    estimate: async () => ({ records: items.length }),
  };
}

const accountImport = (items: Legacy[]) =>
  defineImport({
    name: 'accounts',
    schema: model,
    source: source(items),
    tables: { accounts: { key: ['username'] } },
    map: (rec: Legacy, ctx) => ({
      accounts: {
        id: ctx.uuid('account', rec.name),
        username: rec.name,
        display_name: rec.display,
        password_hash: rec.pw,
        api_token: rec.token ?? null,
      },
    }),
  });

describe('.sensitive()', () => {
  it('is a DSL flag only: the IR and the DDL do not change', () => {
    const plain = table('accounts', { password_hash: varchar(64).notNull() });
    const secret = table('accounts', { password_hash: varchar(64).notNull().sensitive() });
    expect(secret.columns.password_hash.def.sensitive).toBe(true);
    expect(plain.columns.password_hash.def.sensitive).toBe(false);
    expect(secret.toIR()).toEqual(plain.toIR());
  });

  it('E_INVALID_VALUE names the column but never echoes a sensitive value', () => {
    const long = `${HASH}${HASH}`;
    let caught: unknown;
    try {
      validateValues(accounts, { username: 'ann', display_name: 'Ann', password_hash: long }, 'insert');
    } catch (err) {
      caught = err;
    }
    expect(String((caught as Error).message)).toMatch(
      /accounts\.password_hash \(character varying\(64\)\): longer than 64 characters; got string \*\*\*\* \(sensitive, not shown\)/,
    );
    expect(inspect(caught)).not.toContain(HASH.slice(0, 20));
  });
});

describeEachBackend('sensitive columns in import rejects', (t) => {
  let ferry: Ferry<any>;
  let handle: DbHandle;
  let dir: string;
  beforeAll(async () => {
    handle = await t.open();
    // One handle for both (PGlite allows one per data directory).
    ferry = new Ferry(handle, schema, {});
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-sensitive-'));
  });
  beforeEach(async () => {
    await resetPublicSchema(ferry.db);
    await sql.raw(renderCreateSql(schema.toIR())).execute(ferry.db);
    await handle.refreshTypes();
  });

  it('masks them in the rejects file and the rejects table, whichever step rejected the row', async () => {
    const items: Legacy[] = [
      { name: 'ann', display: 'Ann', pw: hashOf(0), token: 'tok-ann-0123456789' },
      // Refused by validation (display_name too long); the source field has another name.
      { name: 'bob', display: 'Bob the very long name', pw: hashOf(1), password_hash: hashOf(1) },
      // Refused by the database: duplicate token (Key (api_token)=(…) already exists).
      { name: 'cid', display: 'Cid', pw: hashOf(2), token: 'tok-ann-0123456789' },
      // Refused by the database: check constraint (Failing row contains (…)).
      { name: 'dan', display: 'banned', pw: hashOf(3) },
      // Refused by validation on the sensitive column itself.
      { name: 'eve', display: 'Eve', pw: `${HASH}${HASH}` },
    ];
    const rejectsFile = path.join(dir, `${t.backend}.ndjson`);
    const report = await runImport({ db: handle, definition: accountImport(items), rejectsFile, batchSize: 10 });
    expect(report.rejects).toBe(4);

    const text = await readFile(rejectsFile, 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const stored = await sql<{
      reason: string;
      record: string;
    }>`select reason, record from ferry_import_rejects`.execute(ferry.db);
    for (const place of [text, JSON.stringify(stored.rows)]) {
      for (const i of [1, 2, 3]) expect(place).not.toContain(hashOf(i));
      expect(place).not.toContain(HASH.slice(0, 20));
      expect(place).not.toContain('tok-ann-0123456789');
    }
    const byName = (name: string) => lines.find((l) => String(l.record).includes(`"${name}"`));
    expect(JSON.parse(byName('bob').record)).toEqual({
      name: 'bob',
      display: 'Bob the very long name',
      pw: '****',
      password_hash: '****',
    });
    expect(byName('bob').reason).toMatch(/accounts\.display_name .*longer than 12 characters/);
    expect(byName('cid').reason).toMatch(/Key \(api_token\)=\(\*\*\*\*\) already exists/);
    expect(JSON.parse(byName('cid').record)).toMatchObject({
      username: 'cid',
      password_hash: '****',
      api_token: '****',
    });
    expect(byName('dan').reason).toMatch(/accounts_display_name_check.*Failing row contains \(\*\*\*\*\)/);
    expect(JSON.parse(byName('dan').record)).toMatchObject({
      username: 'dan',
      display_name: 'banned',
      password_hash: '****',
    });
    expect(byName('eve').reason).toMatch(/accounts\.password_hash .*got string \*\*\*\* \(sensitive, not shown\)/);
    // Other values stay readable.
    expect(text).toContain('Bob the very long name');
  });

  it('masks them in repository constraint errors, cause and util.inspect included', async () => {
    const repo = ferry.repo(accounts);
    await repo.insert({
      id: crypto.randomUUID(),
      username: 'ann',
      display_name: 'Ann',
      password_hash: hashOf(0),
      api_token: 'tok-secret-0001',
    });
    const err = await expectFerryError(
      repo.insert({
        id: crypto.randomUUID(),
        username: 'bea',
        display_name: 'Bea',
        password_hash: hashOf(1),
        api_token: 'tok-secret-0001',
      }),
      'E_CONSTRAINT',
      /Key \(api_token\)=\(\*\*\*\*\) already exists/,
    );
    expect(inspect(err, { depth: 5 })).not.toContain('tok-secret-0001');
    const banned = await expectFerryError(
      repo.insert({ id: crypto.randomUUID(), username: 'cat', display_name: 'banned', password_hash: hashOf(2) }),
      'E_CONSTRAINT',
    );
    expect(inspect(banned, { depth: 5 })).not.toContain(hashOf(2));
  });
});
