/**
 * `ferry verify`: re-read the source through the same mapping as the import,
 * stage every row in session temp tables, and compare with the targets in SQL
 * (so values are compared as Postgres types, not as JS renderings): rows
 * missing, rows whose content differs, rows the source does not have, and a
 * content checksum of each side.
 */
import type { DbHandle } from '../db/open.js';
import type { RawSession } from '../db/session.js';
import { FerryError } from '../errors.js';
import { quoteIdent } from '../schema/identifiers.js';
import type { DefinedImport } from './define.js';
import { E_IMPORT_DEFINITION } from './errors.js';
import { KeySet } from './key-set.js';
import { prepareBatches } from './prepare.js';
import { namedSources } from './records.js';
import { copyGroup, createStaging } from './staging.js';
import { readCheckpoint, readRejects } from './state.js';
import { comparable, planTargets, resolveSchema, type Target } from './targets.js';

export interface TableVerification {
  table: string;
  /** Rows the source maps to (after duplicates merged and rejects left out). */
  expected: number;
  /** Rows in the table. */
  actual: number;
  missing: number;
  different: number;
  /** Rows in the table whose key the source does not produce. */
  extra: number;
  sourceChecksum: string;
  databaseChecksum: string;
  /** Columns compared (insert-only columns are not). */
  columns: string[];
  /** Up to five keys of missing or different rows, to start looking. */
  examples: { kind: 'missing' | 'different' | 'extra'; key: Record<string, unknown> }[];
}

export interface VerifyReport {
  name: string;
  ok: boolean;
  records: number;
  tables: TableVerification[];
  durationMs: number;
}

export interface VerifyOptions {
  db: DbHandle;
  definition: DefinedImport;
  name?: string;
  signal?: AbortSignal;
  onProgress?: (records: number) => void;
}

const PREFIX = 'ferry_verify_';

interface ColumnSet {
  columns: string[];
  ranges: [number, number][];
}

export async function verifyImport(options: VerifyOptions): Promise<VerifyReport> {
  const def = options.definition;
  const name = options.name ?? def.name ?? 'import';
  if (typeof def.map !== 'function') throw new FerryError(E_IMPORT_DEFINITION, `Import "${name}" has no map().`);
  const started = performance.now();
  const targets = planTargets(resolveSchema(def.schema), def.tables as Record<string, never>);
  const sources = namedSources(def.source);
  try {
    return await options.db.session(async (session) => {
      // Rows the database itself refused in the last run (FK, checks) are not expected either.
      const refused = await databaseRejects(session, name);
      // One snapshot for the whole comparison; rolling back drops the staging tables too.
      await session.query('begin isolation level repeatable read');
      try {
        return await stageAndCompare(session, targets, refused);
      } finally {
        await session.query('rollback').catch(() => {});
      }
    });
  } finally {
    await Promise.all(sources.map((s) => s.source.close?.().catch(() => {})));
  }

  async function stageAndCompare(session: RawSession, targets: Target[], refused: Set<string>): Promise<VerifyReport> {
    await createStaging(session, targets, PREFIX);
    // Per table: each column set staged, with the _ferry_n ranges of its rows.
    const columnSets = new Map<Target, ColumnSet[]>(targets.map((t) => [t, []]));
    const offsets = new Map<Target, number>(targets.map((t) => [t, 0]));
    const keySets = new Map(targets.map((t) => [t.name, new KeySet()]));
    let records = 0;
    const batches = prepareBatches({ definition: def, sources, signal: options.signal }, targets, keySets, 0, 5_000);
    for await (const batch of batches) {
      for (const [target, groups] of batch.groups) {
        for (const group of groups.values()) {
          const keep = group.meta.map((m) => !refused.has(`${m.ordinal}:${m.rowIndex}`));
          const filtered = {
            columns: group.columns,
            lines: group.lines.filter((_, i) => keep[i]),
            meta: group.meta.filter((_, i) => keep[i]),
          };
          if (filtered.lines.length === 0) continue;
          const first = offsets.get(target) as number;
          offsets.set(target, first + filtered.lines.length);
          await copyGroup(session, target, filtered, first, [], `${PREFIX}${target.order}`);
          const sets = columnSets.get(target) as ColumnSet[];
          let set = sets.find((x) => x.columns.join() === group.columns.join());
          if (!set) {
            set = { columns: group.columns, ranges: [] };
            sets.push(set);
          }
          const last = set.ranges.at(-1);
          if (last && last[1] === first - 1) last[1] = first + filtered.lines.length - 1;
          else set.ranges.push([first, first + filtered.lines.length - 1]);
        }
      }
      records = batch.position;
      options.onProgress?.(records);
    }
    const tables: TableVerification[] = [];
    for (const target of targets) tables.push(await compare(session, target, columnSets.get(target) as ColumnSet[]));
    const ok = tables.every(
      (t) => t.missing === 0 && t.different === 0 && t.extra === 0 && t.sourceChecksum === t.databaseChecksum,
    );
    return { name, ok, records, tables, durationMs: performance.now() - started };
  }
}

async function databaseRejects(session: RawSession, name: string): Promise<Set<string>> {
  const checkpoint = await readCheckpoint(session, name);
  if (!checkpoint) return new Set();
  const rejects = await readRejects(session, name, checkpoint.runId);
  return new Set(
    rejects.filter((r) => r.sqlstate !== null && r.rowIndex !== null).map((r) => `${r.ordinal}:${r.rowIndex}`),
  );
}

async function compare(session: RawSession, target: Target, sets: ColumnSet[]): Promise<TableVerification> {
  const staging = `${PREFIX}${target.order}`;
  const table = quoteIdent(target.name);
  const on = target.key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' and ');
  const keyOrder = (alias: string) => target.key.map((k) => `${alias}.${quoteIdent(k)}`).join(', ');
  const keyJson = (alias: string) =>
    `json_build_object(${target.key.map((k) => `'${k}', ${alias}.${quoteIdent(k)}`).join(', ')})`;
  const compared = (cols: string[]) => cols.filter((c) => !target.insertOnly.has(c));
  // Checksum over the columns every staged row has (usually all mapped columns).
  const common =
    sets.length === 0
      ? [...target.key]
      : compared((sets[0] as ColumnSet).columns).filter((c) => sets.every((s) => s.columns.includes(c)));
  const rowText = (alias: string) => `md5(row(${common.map((c) => comparable(target, c, alias)).join(', ')})::text)`;
  const checksum = (alias: string, from: string) =>
    `select coalesce(md5(string_agg(${rowText(alias)}, '' order by ${keyOrder(alias)})), md5('')) as sum, count(*) as n from ${from}`;
  const countAndExamples = async (kind: 'missing' | 'different' | 'extra', alias: string, from: string) => {
    const n = await session.query<{ n: string }>(`select count(*) as n from ${from}`);
    const ex = await session.query<{ key: Record<string, unknown> }>(
      `select ${keyJson(alias)} as key from ${from} order by ${keyOrder(alias)} limit 5`,
    );
    return { n: Number(n.rows[0]?.n ?? 0), examples: ex.rows.map((r) => ({ kind, key: r.key })) };
  };

  const src = (await session.query<{ sum: string; n: string }>(checksum('s', `${staging} s`))).rows[0];
  const dst = (await session.query<{ sum: string; n: string }>(checksum('t', `${table} t`))).rows[0];
  const missing = await countAndExamples(
    'missing',
    's',
    `${staging} s where not exists (select 1 from ${table} t where ${on})`,
  );
  const extra = await countAndExamples(
    'extra',
    't',
    `${table} t where not exists (select 1 from ${staging} s where ${on})`,
  );
  const different = { n: 0, examples: [] as TableVerification['examples'] };
  for (const set of sets) {
    const c = compared(set.columns).filter((x) => !target.key.includes(x));
    if (c.length === 0) continue;
    const mine = c.map((x) => comparable(target, x, 't')).join(', ');
    const theirs = c.map((x) => comparable(target, x, 's')).join(', ');
    const inSet = set.ranges.map(([a, b]) => `s._ferry_n between ${a} and ${b}`).join(' or ');
    const found = await countAndExamples(
      'different',
      's',
      `${staging} s join ${table} t on ${on} where (${inSet}) and (${mine}) is distinct from (${theirs})`,
    );
    different.n += found.n;
    different.examples.push(...found.examples);
  }
  const examples = [...missing.examples, ...different.examples, ...extra.examples].slice(0, 5);
  return {
    table: target.name,
    expected: Number(src?.n ?? 0),
    actual: Number(dst?.n ?? 0),
    missing: missing.n,
    different: different.n,
    extra: extra.n,
    sourceChecksum: src?.sum ?? '',
    databaseChecksum: dst?.sum ?? '',
    columns: common,
    examples,
  };
}
