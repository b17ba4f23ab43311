/**
 * Fuzz: arbitrary JSON (and near-misses built from the schema's own column
 * names) thrown at every public repository option, on both backends. Each
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
const columnName = fc.oneof(
  fc.constantFrom(...new Set(TABLES.flatMap((t) => Object.keys(t.columns)))),
  fc.constantFrom('nope', '', 'id; drop table users', '"users"', 'excluded.id', '__proto__', 'constructor'),
);
/** Values a column might plausibly get, so calls get past the shape checks to the database. */
const plausible = fc.oneof(
  json,
  fc.constantFrom(null, 0, 1, -1, 2 ** 31, 2 ** 53, 'free', 'pro', 'x', '', true, '2024-01-01', 'now', 'infinity'),
  fc.constantFrom('2024-01-01T00:00:00Z', '1', 'Tue', '1e5', '\u0000', '\ud800', 'a'.repeat(40)),
  fc.integer(),
  fc.array(fc.integer(), { maxLength: 3 }),
);
const rowish = fc.dictionary(columnName, plausible, { maxKeys: 5 });
const orderish = fc.oneof(
  fc.dictionary(columnName, fc.oneof(fc.constantFrom('asc', 'desc', 'ASC', 'up', ''), json), { maxKeys: 3 }),
  fc.array(fc.oneof(columnName, fc.tuple(columnName, fc.constantFrom('asc', 'desc', 'sideways')), json), {
    maxLength: 3,
  }),
);
/** Cursors: arbitrary text, and well-formed envelopes around arbitrary key values. */
const cursorish = fc.oneof(
  fc.string(),
  fc
    .record({
      o: fc.oneof(
        fc.constantFrom('id:asc', 'score:asc,id:asc', 'created_at:desc,id:asc', 'user_id:asc,group_id:asc'),
        json,
      ),
      v: fc.oneof(
        fc.array(fc.oneof(plausible, fc.record({ $date: json }), fc.record({ $bigint: json })), { maxLength: 3 }),
        json,
      ),
    })
    .map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')),
);
const anything = fc.oneof(json, rowish, fc.array(columnName, { maxLength: 3 }), orderish, cursorish);

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
  const tableArb = fc.constantFrom(...TABLES.map((t) => t.name));
  const options: [string, fc.Arbitrary<unknown>, (repo: Repository<any>, x: any) => Promise<unknown>][] = [
    ['where', anything, (r, x) => Promise.all([r.findMany({ where: x }), r.findOne(x), r.count(x)])],
    [
      'where (update/delete)',
      anything,
      async (r, x) => {
        await r.update(x, PATCH[r.table.name]!).catch(rethrowUnlessFerry);
        await r.delete(x);
      },
    ],
    ['orderBy', anything, (r, x) => r.findMany({ orderBy: x, limit: 3 })],
    [
      'limit',
      fc.oneof(anything, fc.integer(), fc.double()),
      (r, x) => Promise.all([r.findMany({ limit: x }), r.page({ limit: x })]),
    ],
    [
      'after',
      anything,
      async (r, x) => {
        await r.findMany({ after: x, limit: 2 }).catch(rethrowUnlessFerry);
        await r.page({ orderBy: { [Object.keys(r.table.columns)[1]!]: 'desc' }, after: x, limit: 2 });
      },
    ],
    ['conflict', anything, (r, x) => r.upsert(firstRow(r.table), { conflict: x })],
    ['update (upsert)', anything, (r, x) => r.upsert(firstRow(r.table), { update: x })],
    [
      'values (insert/upsert)',
      anything,
      async (r, x) => {
        await r.insert(x).catch(rethrowUnlessFerry);
        await r.upsert(x);
      },
    ],
    ['values (update patch)', anything, (r, x) => r.update(1 as never, x)],
    [
      'keys (get/getMany/delete)',
      anything,
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
        fc.asyncProperty(tableArb, arb, (name, x) => check((r) => call(r, x), TABLES.find((t) => t.name === name)!)),
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
