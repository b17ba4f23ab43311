/**
 * Fuzz: arbitrary JSON, and inputs built per table (its own column names,
 * values of each column's kind incl. Dates and BigInts, near-miss cursors),
 * thrown at every public repository option, on both backends. Each
 * call must either return or throw a FerryError with an input-error code,
 * never a TypeError, a SyntaxError or a raw server error, and every statement
 * it sends may only name tables and columns of the schema.
 *
 * Reproducible: a fixed seed (FERRY_FUZZ_SEED to change, FERRY_FUZZ_RUNS for
 * more runs); on failure fast-check prints the seed, path and shrunk input.
 */
import fc from 'fast-check';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { connect, type Ferry } from '../../src/index.js';
import { Repository } from '../../src/repo/repository.js';
import type { Column } from '../../src/schema/column.js';
import type { Table } from '../../src/schema/table.js';
import { describeEachBackend } from '../support/backends.js';
import { CaptureQueries, identifiersOf } from './capture.js';
import { handles } from './conflict-schema.js';
import * as base from './schema.js';

const schema = { ...base, handles };
const TABLES: Table[] = [base.users, base.posts, base.memberships, handles];

const envInt = (name: string, fallback: number) => {
  const n = Number(process.env[name]);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
};
const SEED = envInt('FERRY_FUZZ_SEED', 20_261_202);
const RUNS = envInt('FERRY_FUZZ_RUNS', 200);

/** What a caller may get back for bad input: all mean "fix the request", none "the server broke". */
const INPUT_CODES = new Set(['E_BAD_ARGUMENT', 'E_BAD_CURSOR', 'E_INVALID_VALUE', 'E_UNKNOWN_COLUMN', 'E_CONSTRAINT']);

/** Identifiers a repository statement may use: the schema's tables and columns, ON CONFLICT's `excluded`, count()'s alias. */
const KNOWN = new Set(['excluded', 'count', ...TABLES.flatMap((t) => [t.name, ...Object.keys(t.columns)])]);

// ------------------------------------------------------------ arbitraries

const json = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });
const bogusName = fc.constantFrom(
  'nope',
  '',
  'id; drop table users',
  '"users"',
  'excluded.id',
  '__proto__',
  'constructor',
);
/** Values a column might plausibly get, so calls get past the shape checks to the database. */
const plausible = fc.oneof(
  json,
  fc.constantFrom(null, 0, 1, -1, 2 ** 31, 2 ** 53, 'free', 'pro', 'x', '', true, '2024-01-01', 'now', 'infinity'),
  fc.constantFrom('2024-01-01T00:00:00Z', '1', 'Tue', '1e5', '\u0000', '\ud800', 'a'.repeat(40), 'e@x'),
  fc.integer(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string(), json, { maxKeys: 2 }),
);

/** A value of the column's kind, mostly valid. */
function valueFor(column: Column): fc.Arbitrary<unknown> {
  const def = column.def;
  switch (def.kind) {
    case 'int':
      return fc.integer({ min: -3, max: 5 });
    case 'bigint':
      return fc.oneof(fc.integer({ min: -3, max: 5 }), fc.bigInt());
    case 'string':
      return fc.oneof(fc.constantFrom('a', 'e@x', 'ann'), fc.string({ maxLength: 40, unit: 'binary' }));
    case 'boolean':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...(def.enumValues ?? []));
    case 'timestamp':
      return fc.oneof(fc.date(), fc.constantFrom('2024-01-01T00:00:00Z', 'infinity', '-infinity', 'now'));
    case 'json':
      return json;
    default:
      return plausible;
  }
}

/**
 * Inputs for one table: mostly its own column names (so a call gets past the
 * name checks to values, SQL and the server), sometimes other tables' or bogus ones.
 */
function anythingFor(table: Table): fc.Arbitrary<unknown> {
  const own = Object.keys(table.columns);
  const columnName = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...own) },
    { weight: 1, arbitrary: fc.constantFrom(...new Set(TABLES.flatMap((t) => Object.keys(t.columns)))) },
    { weight: 1, arbitrary: bogusName },
  );
  // Rows of the table's own columns with values of the right kind (or near misses), and free-form ones.
  const typed = Object.fromEntries(
    Object.values(table.columns).map((c) => [c.name, fc.oneof({ weight: 3, arbitrary: valueFor(c) }, plausible)]),
  );
  const rowish = fc.oneof(fc.record(typed, { requiredKeys: [] }), fc.dictionary(columnName, plausible, { maxKeys: 4 }));
  const direction = fc.oneof(fc.constantFrom('asc', 'desc'), fc.constantFrom('ASC', 'up', '', 1), json);
  const orderish = fc.oneof(
    fc.dictionary(columnName, direction, { maxKeys: 3 }),
    fc.array(fc.oneof(columnName, fc.tuple(columnName, direction), json), { maxLength: 3 }),
  );
  const pk = table.primaryKey.map((k) => `${k}:asc`);
  // Signatures of the orders the calls below use, so envelopes reach the value checks.
  const signatures = [pk.join(','), [`${own[1]}:desc`, ...pk.filter((k) => k !== `${own[1]}:asc`)].join(',')];
  const keyValue = fc.oneof(
    plausible,
    fc.record({ $date: fc.oneof(json, fc.constantFrom('2024-01-01T00:00:00Z', 'garbage')) }),
    fc.record({ $bigint: fc.oneof(json, fc.constantFrom('1', 'xyz', '9'.repeat(30))) }),
    fc.record({ $num: fc.oneof(json, fc.constantFrom('Infinity', 'NaN')) }),
  );
  const cursorish = fc.oneof(
    fc.string(),
    fc
      .record({
        o: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...signatures) }, { weight: 1, arbitrary: json }),
        v: fc.oneof({ weight: 4, arbitrary: fc.array(keyValue, { maxLength: 3 }) }, { weight: 1, arbitrary: json }),
      })
      .map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')),
  );
  return fc.oneof(
    json,
    rowish,
    rowish,
    fc.array(columnName, { maxLength: 3 }),
    orderish,
    cursorish,
    fc.array(rowish, { maxLength: 3 }),
  );
}

// ------------------------------------------------------------ the suite

describeEachBackend('repository fuzz', (t) => {
  let ferry: Ferry<any>;
  const capture = new CaptureQueries();
  const repos = new Map<Table, Repository<any>>();

  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema });
    await ferry.createSchema();
    const db = (ferry.db as Kysely<any>).withPlugin(capture);
    for (const table of TABLES) repos.set(table, new Repository(db, table));
    // A few rows, so filters and keyset predicates have something to match.
    const users = repos.get(base.users)!;
    await users.insert([{ telegram_id: 1, username: 'ann', prefs: { a: 1 } }, { telegram_id: 2 }, { telegram_id: 3 }]);
    await repos.get(base.posts)!.insert({ user_id: 1, body: 'hi' });
    await repos.get(base.memberships)!.insert({ user_id: 1, group_id: 1 });
    await repos.get(handles)!.insert({ tenant: 1, slug: 'a', email: 'a@x', nick: 'a' });
  });
  afterAll(() => ferry?.close());

  /** Run one call; pass if it returns or throws an input FerryError, and its statements only name the schema. */
  async function check(call: (repo: Repository<any>) => Promise<unknown>, table: Table): Promise<void> {
    capture.clear();
    try {
      await call(repos.get(table)!);
    } catch (err) {
      if (!(err instanceof FerryError)) throw new Error(`not a FerryError: ${String(err)}`, { cause: err });
      expect(INPUT_CODES, `${err.code}: ${err.message}`).toContain(err.code);
    }
    for (const statement of capture.statements) {
      const { identifiers, raw } = identifiersOf(statement);
      for (const name of identifiers)
        expect(KNOWN, `identifier ${JSON.stringify(name)} in a statement`).toContain(name);
      // Raw fragments are Ferry's and Kysely's own (punctuation, false, asc/desc, now()), never text from the input.
      for (const fragment of raw) expect(fragment.replace(/\b(false|asc|desc|now)\b/g, '')).toMatch(/^[\s(),<>=]*$/);
    }
  }

  // By name, so a counterexample prints as 'users', not the whole Table object.
  const inputs = (extra: fc.Arbitrary<unknown> | null) =>
    fc.constantFrom(...TABLES.map((t) => t.name)).chain((name) => {
      const table = TABLES.find((t) => t.name === name)!;
      return fc.tuple(fc.constant(name), extra ? fc.oneof(anythingFor(table), extra) : anythingFor(table));
    });
  /** [option, extra inputs besides the per-table ones (or null), the calls that take it]. */
  const options: [string, fc.Arbitrary<unknown> | null, (repo: Repository<any>, x: any) => Promise<unknown>][] = [
    ['where', null, (r, x) => Promise.all([r.findMany({ where: x }), r.findOne(x), r.count(x)])],
    [
      'where (update/delete)',
      null,
      async (r, x) => {
        await r.update(x, PATCH[r.table.name]!).catch(rethrowUnlessFerry);
        await r.delete(x);
      },
    ],
    ['orderBy', null, (r, x) => r.findMany({ orderBy: x, limit: 3 })],
    [
      'limit',
      fc.oneof(fc.integer(), fc.double(), fc.integer({ min: -1, max: 3 })),
      (r, x) => Promise.all([r.findMany({ limit: x }), r.page({ limit: x })]),
    ],
    [
      'after',
      null,
      async (r, x) => {
        await r.findMany({ after: x, limit: 2 }).catch(rethrowUnlessFerry);
        await r.page({ orderBy: { [Object.keys(r.table.columns)[1]!]: 'desc' }, after: x, limit: 2 });
      },
    ],
    ['conflict', null, (r, x) => r.upsert(firstRow(r.table), { conflict: x })],
    ['update (upsert)', null, (r, x) => r.upsert(firstRow(r.table), { update: x })],
    [
      'values (insert/upsert)',
      null,
      async (r, x) => {
        await r.insert(x).catch(rethrowUnlessFerry);
        await r.upsert(x);
      },
    ],
    ['values (update patch)', null, (r, x) => r.update(1 as never, x)],
    [
      'keys (get/getMany/delete)',
      null,
      async (r, x) => {
        await r.get(x).catch(rethrowUnlessFerry);
        await r.getMany(x).catch(rethrowUnlessFerry);
        await r.delete(x);
      },
    ],
  ];

  for (const [name, arb, call] of options) {
    it(`${name}: a result or an input FerryError, and only schema identifiers (seed ${SEED}, ${RUNS} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(inputs(arb), ([name, x]) => check((r) => call(r, x), TABLES.find((t) => t.name === name)!)),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }

  it('the fuzz harness itself catches raw errors and unknown identifiers', async () => {
    // Proof the two checks can fail: a raw Kysely query naming a column the schema lacks.
    const raw = (ferry.db as Kysely<any>).withPlugin(capture);
    await expect(check(() => raw.selectFrom('users').select('no_such_column').execute(), base.users)).rejects.toThrow(
      /not a FerryError/,
    );
    await expect(
      check(() => raw.selectFrom('users').select(sql<number>`1`.as('surprise')).execute(), base.users),
    ).rejects.toThrow(/surprise/);
  });
});

/** A valid patch per table, so update() is judged on its target. */
const PATCH: Record<string, Record<string, unknown>> = {
  users: { username: null },
  posts: { task: 1 },
  memberships: { role: 'x' },
  handles: { note: null },
};

function rethrowUnlessFerry(err: unknown): void {
  if (!(err instanceof FerryError)) throw err;
}

/** A valid row for `table` with its key, so upsert reaches the conflict/update handling. */
function firstRow(table: Table): Record<string, unknown> {
  switch (table.name) {
    case 'users':
      return { id: 1, telegram_id: 1 };
    case 'posts':
      return { id: 1, user_id: 1, body: 'x' };
    case 'memberships':
      return { user_id: 1, group_id: 1 };
    default:
      return { id: 1, tenant: 1, slug: 'a', email: 'a@x', nick: 'a' };
  }
}
