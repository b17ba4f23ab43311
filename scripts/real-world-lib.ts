/**
 * The real-world round trip (load a `db/structure.sql` dump, pull, generate
 * from empty, apply to a fresh database, compare IRs and `pg_dump`), shared
 * by the CLI (scripts/real-world-roundtrip.ts, which describes the steps) and
 * the test (test/migrate/real-world.test.ts).
 *
 * Scratch databases are created on the server at FERRY_ADMIN_URL, else
 * TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test, and
 * dropped by `roundTrip` when it ends (`dropAll` drops any left over).
 *
 * Over 600 lines: one pipeline whose steps (load, pull, generate, apply,
 * compare, explain the differences) share the scratch databases and the
 * normalisation rules; the CLI and the test need all of it, in this order.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, promisify } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { importModule } from '../src/config.js';
import { type DbHandle, openDatabase } from '../src/db/open.js';
import { diffSchemas } from '../src/migrate/diff.js';
import { writeMigration } from '../src/migrate/files.js';
import { introspect } from '../src/migrate/introspect.js';
import { planMigrations } from '../src/migrate/plan.js';
import { renderSchemaModule } from '../src/migrate/pull.js';
import { Migrator } from '../src/migrate/runner.js';
import { normalise, openShadow, type Shadow } from '../src/migrate/shadow.js';
import { splitStatements } from '../src/migrate/sql-split.js';
import type { SchemaIR } from '../src/schema/ir.js';
import { defineSchema } from '../src/schema/schema.js';

const run = promisify(execFile);
const SRC_INDEX = fileURLToPath(new URL('../src/index.ts', import.meta.url));
export const ADMIN_URL =
  process.env.FERRY_ADMIN_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const EMPTY: SchemaIR = { enums: [], tables: [] };

// ------------------------------------------------------------------ scratch databases

const live = new Set<string>();

function urlOf(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createDatabase(name: string): Promise<string> {
  await withAdmin((c) => c.query(`create database "${name}"`));
  live.add(name);
  return urlOf(name);
}

async function dropDatabase(name: string): Promise<void> {
  await withAdmin((c) => c.query(`drop database if exists "${name}" with (force)`));
  live.delete(name);
}

export async function dropAll(): Promise<void> {
  for (const name of [...live]) await dropDatabase(name).catch((err) => console.error(`drop ${name}: ${err}`));
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------------ loading

/** Extensions a dump evidently needs: those it creates, and those whose objects it uses. */
const EXTENSION_HINTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\buuid_generate_v[14]\w*\s*\(/i, 'uuid-ossp'],
  [/\b(?:gin|gist)_trgm_ops\b|\bsimilarity\s*\(|\bword_similarity\s*\(/i, 'pg_trgm'],
  [/\bcitext\b/i, 'citext'],
  [/\bhstore\b/i, 'hstore'],
  [/\bltree\b/i, 'ltree'],
  [/\bgen_random_bytes\s*\(|\bcrypt\s*\(|\bgen_salt\s*\(|\bdigest\s*\(/i, 'pgcrypto'],
  [/\bunaccent\s*\(/i, 'unaccent'],
  [/\bll_to_earth\s*\(|\bearth_distance\s*\(/i, 'earthdistance'],
  [/\blevenshtein\s*\(|\bdmetaphone\s*\(|\bsoundex\s*\(/i, 'fuzzystrmatch'],
  [/\bgin__int_ops\b|\bgist__int(?:big)?_ops\b/i, 'intarray'],
];

function neededExtensions(text: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const create = /CREATE EXTENSION (?:IF NOT EXISTS )?("[^"]+"|[\w-]+)(?: WITH SCHEMA ("[^"]+"|\w+))?/gi;
  for (const m of text.matchAll(create)) out.set(unquote(m[1]!), m[2] ? unquote(m[2]) : null);
  for (const [re, ext] of EXTENSION_HINTS) if (!out.has(ext) && re.test(text)) out.set(ext, null);
  out.delete('plpgsql');
  return out;
}

const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replaceAll('""', '"') : s);

export interface LoadResult {
  status: 'ok' | 'partial' | 'failed';
  /** Extensions created before loading (available here, named or used by the file). */
  precreated: string[];
  /** Extensions the file needs that this server does not have. */
  unavailable: string[];
  /** The first error of the strict load, when it failed. */
  strictError: string | null;
  /** Errors of the best-effort load (distinct messages, first few). */
  partialErrors: string[];
  partialErrorCount: number;
}

async function psqlFile(url: string, file: string, stopOnError: boolean): Promise<{ ok: boolean; stderr: string }> {
  try {
    const { stderr } = await run(
      'psql',
      ['-X', '-q', '-v', `ON_ERROR_STOP=${stopOnError ? 1 : 0}`, '-d', url, '-f', file],
      { maxBuffer: 256 * 1024 * 1024, env: { ...process.env, PGOPTIONS: '' } },
    );
    return { ok: !/\bERROR:/.test(stderr), stderr };
  } catch (err) {
    return { ok: false, stderr: String((err as { stderr?: string }).stderr ?? err) };
  }
}

const errorLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => /\bERROR:/.test(l))
    .map((l) => l.trim());

async function loadInto(name: string, file: string): Promise<{ url: string; load: LoadResult }> {
  const text = readFileSync(file, 'utf8');
  const needed = neededExtensions(text);
  const available = new Set(
    (await withAdmin((c) => c.query<{ name: string }>('select name from pg_available_extensions'))).rows.map(
      (r) => r.name,
    ),
  );
  const load: LoadResult = {
    status: 'ok',
    precreated: [],
    unavailable: [...needed.keys()].filter((e) => !available.has(e)),
    strictError: null,
    partialErrors: [],
    partialErrorCount: 0,
  };
  const prepare = async (): Promise<string> => {
    const url = await createDatabase(name);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (const [ext, schema] of needed) {
        // An extension the file puts in another schema is left to the file (the schema may not exist yet).
        if (!available.has(ext) || (schema !== null && schema !== 'public')) continue;
        await client.query(`create extension if not exists "${ext}"`);
        if (!load.precreated.includes(ext)) load.precreated.push(ext);
      }
    } finally {
      await client.end();
    }
    return url;
  };

  let url = await prepare();
  const strict = await psqlFile(url, file, true);
  if (strict.ok) return { url, load };
  load.strictError = errorLines(strict.stderr)[0] ?? strict.stderr.trim().split('\n')[0] ?? 'unknown error';
  await dropDatabase(name);
  url = await prepare();
  const loose = await psqlFile(url, file, false);
  const errors = errorLines(loose.stderr);
  load.partialErrorCount = errors.length;
  load.partialErrors = [...new Set(errors.map((l) => l.replace(/^psql:[^:]+:\d+: /, '')))].slice(0, 5);
  const { n } = (
    await query<{ n: number }>(
      url,
      `select count(*)::int as n from pg_class c join pg_namespace s on s.oid = c.relnamespace
        where s.nspname = 'public' and c.relkind in ('r', 'p')`,
    )
  )[0]!;
  load.status = n > 0 ? 'partial' : 'failed';
  return { url, load };
}

// ------------------------------------------------------------------ catalog counts

export interface Counts {
  tables: number;
  enums: number;
  indexes: number;
  constraints: number;
  pk: number;
  unique: number;
  fk: number;
  check: number;
  views?: number;
}

function irCounts(ir: SchemaIR): Counts {
  const sum = (f: (t: SchemaIR['tables'][number]) => number) => ir.tables.reduce((n, t) => n + f(t), 0);
  const pk = sum((t) => (t.primaryKey ? 1 : 0));
  const unique = sum((t) => t.uniques.length);
  const fk = sum((t) => t.foreignKeys.length);
  const check = sum((t) => t.checks.length);
  return {
    tables: ir.tables.length,
    enums: ir.enums.length,
    indexes: sum((t) => t.indexes.length),
    constraints: pk + unique + fk + check,
    ...((ir.views?.length ?? 0) > 0 ? { views: ir.views!.length } : {}),
    pk,
    unique,
    fk,
    check,
  };
}

/** What A holds that the IR has no place for (public schema unless said otherwise). */
async function unmodelledCounts(url: string): Promise<Record<string, number>> {
  const [row] = await query<Record<string, number>>(
    url,
    `with pub as (select oid from pg_namespace where nspname = 'public'),
          ext_objs as (select objid from pg_depend where deptype = 'e')
     select
       -- Functions, procedures and triggers are Ferry's (fn(), trigger(), raw()); aggregates are not.
       (select count(*) from pg_proc p where p.pronamespace in (select oid from pub)
           and p.oid not in (select objid from ext_objs) and p.prokind = 'a')::int as aggregates,
       (select count(*) from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where not c.relispartition and c.relnamespace in (select oid from pub))::int as inherits,
       (select count(*) from pg_constraint where contype = 'x'
           and connamespace in (select oid from pub))::int as exclusion,
       -- Deferrable foreign keys, uniques and primary keys are modelled (their IR's deferrable); others are not.
       (select count(*) from pg_constraint where condeferrable and contype not in ('f', 'u', 'p')
           and connamespace in (select oid from pub))::int as deferrable,
       (select count(*) from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_type t on t.oid = a.atttypid
         where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p') and c.relnamespace in (select oid from pub)
           and a.attcollation <> 0 and a.attcollation <> t.typcollation)::int as collations,
       (select count(*) from pg_type t where t.typtype = 'd' and t.typnamespace in (select oid from pub)
           and t.oid not in (select objid from ext_objs))::int as domains,
       (select count(*) from pg_type t join pg_class c on c.oid = t.typrelid
         where t.typtype = 'c' and c.relkind = 'c' and t.typnamespace in (select oid from pub))::int as composite_types,
       (select count(*) from pg_namespace where nspname not in ('public', 'information_schema')
           and nspname not like 'pg\\_%')::int as other_schemas`,
  );
  return row!;
}

// ------------------------------------------------------------------ pg_dump entries

interface DumpEntry {
  type: string;
  name: string;
  schema: string;
  /** The entry as pg_dump wrote it (header comment included). */
  raw: string;
  /** Comments, SET lines, \restrict lines and blank lines removed; whitespace collapsed. */
  norm: string;
}

interface Dump {
  preamble: string;
  entries: DumpEntry[];
}

const HEADER = /^-- Name: (.*); Type: (.*); Schema: (.*); Owner: [^;]*(?:; Tablespace: .*)?$/;

async function pgDump(url: string): Promise<string> {
  const { stdout } = await run('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', '-d', url], {
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

function parseDump(text: string): Dump {
  const lines = text.split('\n');
  const entries: DumpEntry[] = [];
  const preamble: string[] = [];
  let current: { type: string; name: string; schema: string; lines: string[] } | null = null;
  const flush = () => {
    if (!current) return;
    const raw = current.lines.join('\n');
    entries.push({ type: current.type, name: current.name, schema: current.schema, raw, norm: normaliseSql(raw) });
  };
  for (const line of lines) {
    const m = HEADER.exec(line);
    if (m) {
      flush();
      current = { name: m[1]!, type: m[2]!, schema: m[3]!, lines: ['--', line] };
    } else if (current) current.lines.push(line);
    else if (!line.startsWith('\\')) preamble.push(line);
  }
  flush();
  return { preamble: preamble.join('\n'), entries };
}

function normaliseSql(raw: string): string {
  return raw
    .split('\n')
    .filter((l) => {
      const t = l.trim();
      return (
        t !== '' &&
        !t.startsWith('--') &&
        !t.startsWith('\\') &&
        !/^SET [\w.]+ = .*;$/.test(t) &&
        !/^SELECT pg_catalog\.set_config\(/.test(t)
      );
    })
    .join('\n')
    .replace(/\s+/g, ' ')
    .trim();
}

const keyOf = (e: DumpEntry) => `${e.type}\t${e.schema}\t${e.name}`;
/** The object an entry belongs to: `t col` / `t con` names start with the table. */
const ownerOf = (e: DumpEntry) => e.name.split(' ')[0]!;
const isFerryEntry = (e: DumpEntry) =>
  /^ferry_/.test(ownerOf(e)) || /^(TABLE|COLUMN) ferry_/.test(e.name) || /\bpublic\.ferry_migrations\b/.test(e.norm);

// ------------------------------------------------------------------ prerequisites

// Not EXTENSION: Ferry models extensions (extension() in the DSL), so B and the shadow get them from Ferry.
const PREREQ_TYPES = new Set([
  'SCHEMA',
  'FUNCTION',
  'PROCEDURE',
  'AGGREGATE',
  'OPERATOR',
  'OPERATOR CLASS',
  'OPERATOR FAMILY',
  'CAST',
  'COLLATION',
  'CONVERSION',
  'DOMAIN',
  'SHELL TYPE',
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'TEXT SEARCH PARSER',
  'TEXT SEARCH TEMPLATE',
]);

const isEnumEntry = (e: DumpEntry) => e.type === 'TYPE' && / AS ENUM \(/.test(e.norm);
/** Ferry creates functions and procedures: fn(), or raw() for C-language ones, procedures and window functions. */
const isModelledFunction = (e: DumpEntry) => e.type === 'FUNCTION' || e.type === 'PROCEDURE';
/** ... and triggers: trigger(), or raw() for constraint triggers and transition tables. */
const isModelledTrigger = (e: DumpEntry) => e.type === 'TRIGGER';

/**
 * Entries of A's dump that Ferry does not model but generated DDL may refer
 * to (a domain as a column type, a function in a default or check, an
 * extension's opclass in an index), in dump order, with their comments.
 * Sequences are no longer among them: Ferry creates them (issue 17).
 */
function prerequisites(dump: Dump): DumpEntry[] {
  const picked = dump.entries.filter((e) => {
    if (e.schema === 'public' || e.schema === '-' || e.type === 'SCHEMA') {
      if (isModelledFunction(e)) return false;
      if (PREREQ_TYPES.has(e.type)) return e.type !== 'SCHEMA' || e.name !== 'public';
      if (e.type === 'TYPE') return !isEnumEntry(e);
    }
    return false;
  });
  const names = new Set(picked.map((e) => `${e.type} ${e.name}`));
  const comments = dump.entries.filter(
    (e) =>
      e.type === 'COMMENT' &&
      (names.has(e.name) || /^(AGGREGATE|DOMAIN|SCHEMA) /.test(e.name)) &&
      !/^SCHEMA public$/.test(e.name),
  );
  const chosen = new Set([...picked, ...comments]);
  return dump.entries.filter((e) => chosen.has(e));
}

interface PrereqState {
  copied: number;
  pending: DumpEntry[];
  errors: Map<string, string>;
}

async function copyPrerequisites(url: string, preamble: string, entries: DumpEntry[]): Promise<PrereqState> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const state: PrereqState = { copied: 0, pending: [], errors: new Map() };
  try {
    await client.query(preamble);
    for (const e of entries) {
      try {
        await client.query(e.raw);
        state.copied++;
      } catch (err) {
        state.pending.push(e);
        state.errors.set(keyOf(e), (err as Error).message);
      }
    }
  } finally {
    await client.end();
  }
  return state;
}

// ------------------------------------------------------------------ IR comparison

/** Paths where `a` and `b` differ; arrays of named objects are matched by name (and their order checked). */
function irDiff(a: unknown, b: unknown, path = ''): string[] {
  if (Object.is(a, b)) return [];
  if (Array.isArray(a) && Array.isArray(b)) {
    const named = [...a, ...b].every((x) => x !== null && typeof x === 'object' && typeof x.name === 'string');
    if (named && (a.length > 0 || b.length > 0)) {
      const out: string[] = [];
      const am = new Map(a.map((x) => [x.name as string, x]));
      const bm = new Map(b.map((x) => [x.name as string, x]));
      for (const [name, x] of am) {
        if (!bm.has(name)) out.push(`${path}[${name}]: only in A`);
        else out.push(...irDiff(x, bm.get(name), `${path}[${name}]`));
      }
      for (const name of bm.keys()) if (!am.has(name)) out.push(`${path}[${name}]: only in B`);
      const common = (xs: unknown[], other: Map<string, unknown>) =>
        xs.map((x) => (x as { name: string }).name).filter((n) => other.has(n));
      if (out.length === 0 && common(a, bm).join('\0') !== common(b, am).join('\0')) {
        out.push(`${path}: order differs: A=${JSON.stringify(common(a, bm))} B=${JSON.stringify(common(b, am))}`);
      }
      return out;
    }
    if (a.length !== b.length) return [`${path}: A=${JSON.stringify(a)} B=${JSON.stringify(b)}`];
    return a.flatMap((x, i) => irDiff(x, b[i], `${path}[${i}]`));
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      irDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k),
    );
  }
  return [`${path}: A=${JSON.stringify(a)} B=${JSON.stringify(b)}`];
}

// ------------------------------------------------------------------ dump comparison

export interface DumpDifference {
  /** 'A' = only in A (missing from B), 'B' = only in B, 'both' = in both, different. */
  side: 'A' | 'B' | 'both';
  type: string;
  name: string;
  kind: string;
  byDesign: boolean;
  a?: string;
  b?: string;
}

const BY_DESIGN_TYPES: Record<string, string> = {
  FUNCTION: 'functions',
  PROCEDURE: 'functions',
  AGGREGATE: 'functions',
  TRIGGER: 'triggers',
  'EVENT TRIGGER': 'triggers',
  'MATERIALIZED VIEW DATA': 'views',
  RULE: 'rules',
  'SEQUENCE SET': 'sequences',
  DOMAIN: 'domains/types',
  'SHELL TYPE': 'domains/types',
  SCHEMA: 'other schemas',
  COLLATION: 'collations',
  'TEXT SEARCH CONFIGURATION': 'text search',
  'TEXT SEARCH DICTIONARY': 'text search',
  'TEXT SEARCH PARSER': 'text search',
  'TEXT SEARCH TEMPLATE': 'text search',
  OPERATOR: 'operators/casts',
  'OPERATOR CLASS': 'operators/casts',
  'OPERATOR FAMILY': 'operators/casts',
  CAST: 'operators/casts',
  PUBLICATION: 'row security/publications',
  'PUBLICATION TABLE': 'row security/publications',
  'DEFAULT ACL': 'row security/publications',
};

/** Kinds (of one side's text) Ferry does not model, for constraints and indexes. */
function constraintFeatures(text: string): string[] {
  const out: string[] = [];
  if (/ EXCLUDE USING /.test(text)) out.push('exclusion constraints');
  if (/ DEFERRABLE\b/.test(text) && !/ FOREIGN KEY | UNIQUE | PRIMARY KEY /.test(text))
    out.push('deferrable constraints');
  if (/ MATCH (FULL|PARTIAL)\b/.test(text)) out.push('FK MATCH FULL');
  if (/ FOREIGN KEY .* ON DELETE SET (NULL|DEFAULT) \(/.test(text)) out.push('FK ON DELETE SET NULL (cols)');
  if (/ (UNIQUE|PRIMARY KEY) .*\bINCLUDE \(/.test(text)) out.push('constraint INCLUDE columns');
  if (/ WITH \(\w+ ?=/.test(text)) out.push('storage parameters');
  if (/ USING INDEX TABLESPACE | TABLESPACE /.test(text)) out.push('tablespaces');
  if (/ COLLATE /.test(text)) out.push('collations');
  if (/ NO INHERIT\b/.test(text)) out.push('inheritance');
  // A column's is modelled (ColumnIR.statistics); an index expression's is not.
  if (/ALTER INDEX .* SET STATISTICS /.test(text)) out.push('index statistics targets');
  return out;
}

/** Split on top-level commas (outside parentheses, quotes and dollar quotes). */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "'" || ch === '"') {
      const end = s.indexOf(ch, i + 1);
      i = end < 0 ? s.length : end;
    } else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(s.slice(start).trim());
  return out.filter((x) => x !== '');
}

interface TableParts {
  header: string;
  items: string[];
  tail: string;
  extra: string[];
}

function tableParts(norm: string): TableParts | null {
  const statements = splitStatements(norm).map((s) => s.text);
  const create = statements[0] ?? '';
  const open = create.indexOf('(');
  if (!/^CREATE (UNLOGGED )?TABLE /.test(create) || open < 0) return null;
  let depth = 0;
  let close = -1;
  for (let i = open; i < create.length; i++) {
    const ch = create[i];
    if (ch === "'" || ch === '"') {
      const end = create.indexOf(ch, i + 1);
      i = end < 0 ? create.length : end;
    } else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) {
      close = i;
      break;
    }
  }
  if (close < 0) return null;
  return {
    header: create.slice(0, open).trim(),
    items: splitTopLevel(create.slice(open + 1, close)),
    tail: create.slice(close + 1).trim(),
    extra: statements.slice(1),
  };
}

/** Why two CREATE TABLE entries differ: the by-design kinds, and what is left unexplained. */
function explainTable(a: string | undefined, b: string | undefined): { kinds: string[]; unexplained: string[] } {
  const kinds = new Set<string>();
  const unexplained: string[] = [];
  const pa = a === undefined ? null : tableParts(a);
  const pb = b === undefined ? null : tableParts(b);
  if (!pa || !pb) {
    return { kinds: [], unexplained: [a === undefined ? 'table only in B' : 'table only in A'] };
  }
  // UNLOGGED and storage parameters (WITH (...)) are modelled: a difference there is unexplained.
  if (pa.header !== pb.header) unexplained.push(`header: A=${pa.header} B=${pb.header}`);
  if (pa.tail !== pb.tail) {
    for (const tail of [pa.tail, pb.tail]) {
      if (/\bINHERITS \(/.test(tail)) kinds.add('inheritance');
      if (/\bUSING \w+/.test(tail)) kinds.add('table access methods');
    }
    if (kinds.size === 0) unexplained.push(`tail: A=${pa.tail} B=${pb.tail}`);
  }
  // Column storage, compression and statistics targets are modelled: a difference there is unexplained.
  if (pa.extra.join(';') !== pb.extra.join(';')) unexplained.push(`extra statements differ`);
  const noCollate = (s: string) => s.replace(/ COLLATE (pg_catalog\.)?("[^"]+"|[\w.]+)/g, '');
  const onlyA = pa.items.filter((x) => !pb.items.includes(x));
  const onlyB = pb.items.filter((x) => !pa.items.includes(x));
  const inherits = /\bINHERITS \(/.test(pa.tail);
  for (const x of onlyA) {
    if (pb.items.map(noCollate).includes(noCollate(x))) kinds.add('collations');
    else unexplained.push(`A: ${x}`);
  }
  for (const x of onlyB) {
    if (pa.items.map(noCollate).includes(noCollate(x))) kinds.add('collations');
    else if (inherits) kinds.add('inheritance');
    else unexplained.push(`B: ${x}`);
  }
  if (onlyA.length === 0 && onlyB.length === 0 && pa.items.join(',') !== pb.items.join(',')) {
    unexplained.push('column/constraint order differs');
  }
  return { kinds: [...kinds], unexplained };
}

function classify(side: DumpDifference['side'], a: DumpEntry | undefined, b: DumpEntry | undefined) {
  const e = (a ?? b)!;
  const text = `${a?.norm ?? ''} ${b?.norm ?? ''}`;
  const d = (kind: string, byDesign: boolean): DumpDifference => ({
    side,
    type: e.type,
    name: e.name,
    kind,
    byDesign,
    ...(a ? { a: a.norm } : {}),
    ...(b ? { b: b.norm } : {}),
  });
  if (e.schema !== 'public' && e.schema !== '-') return [d('other schemas', true)];
  if (e.type === 'EXTENSION') return [d('extensions', false)];
  if (e.type === 'COMMENT') {
    // CREATE EXTENSION sets the comment of its control file; another one is not modelled.
    if (/^EXTENSION /.test(e.name)) return [d('comments on extensions', true)];
    if (/^(FUNCTION|PROCEDURE) /.test(e.name)) return [d('functions', false)];
    if (/^AGGREGATE /.test(e.name)) return [d('functions', true)];
    if (/^(TABLE|COLUMN) /.test(e.name)) return [d('table/column comments', false)];
    if (/^(VIEW|MATERIALIZED VIEW) /.test(e.name)) return [d('views', false)];
    if (/^TRIGGER /.test(e.name)) return [d('triggers', false)];
    return [d('comments on unmodelled objects', true)];
  }
  if (e.type === 'TYPE') return [isEnumEntry(e) ? d('enums', false) : d('domains/types', true)];
  // Sequences and their nextval() defaults are modelled (standalone, or a serial/identity column's).
  if (e.type === 'SEQUENCE' || e.type === 'SEQUENCE OWNED BY') return [d('sequences', false)];
  if (e.type === 'DEFAULT') return [/nextval\(/.test(text) ? d('sequences', false) : d('column defaults', false)];
  // Views and materialized views (with their indexes and comments) are modelled.
  if (e.type === 'VIEW' || e.type === 'MATERIALIZED VIEW') return [d('views', false)];
  if (isModelledFunction(e)) return [d('functions', false)];
  if (isModelledTrigger(e)) return [d('triggers', false)];
  const designed = BY_DESIGN_TYPES[e.type];
  if (designed) return [d(designed, true)];
  if (e.type === 'TABLE') {
    const { kinds, unexplained } = explainTable(a?.norm, b?.norm);
    const out = kinds.map((k) => d(k, true));
    if (unexplained.length > 0) out.push({ ...d('tables', false), kind: `tables: ${unexplained.join(' | ')}` });
    return out.length > 0 ? out : [d('tables', false)];
  }
  if (e.type === 'CONSTRAINT' || e.type === 'FK CONSTRAINT' || e.type === 'CHECK CONSTRAINT' || e.type === 'INDEX') {
    // An index's storage parameters are modelled; a constraint's index's (UNIQUE ... WITH (...)) are not.
    const features = constraintFeatures(text).filter((f) => e.type !== 'INDEX' || f !== 'storage parameters');
    if (features.length > 0) return [...new Set(features)].map((k) => d(k, true));
    const kind = e.type === 'INDEX' ? 'indexes' : e.type === 'FK CONSTRAINT' ? 'foreign keys' : 'constraints';
    return [d(kind, false)];
  }
  return [d(`other (${e.type})`, false)];
}

function compareDumps(a: Dump, b: Dump): DumpDifference[] {
  const index = (d: Dump) => {
    const m = new Map<string, DumpEntry>();
    for (const e of d.entries) {
      if (isFerryEntry(e)) continue;
      let k = keyOf(e);
      for (let i = 2; m.has(k); i++) k = `${keyOf(e)}#${i}`;
      m.set(k, e);
    }
    return m;
  };
  const am = index(a);
  const bm = index(b);
  const out: DumpDifference[] = [];
  for (const [k, ea] of am) {
    const eb = bm.get(k);
    if (!eb) out.push(...classify('A', ea, undefined));
    else if (ea.norm !== eb.norm) out.push(...classify('both', ea, eb));
  }
  for (const [k, eb] of bm) if (!am.has(k)) out.push(...classify('B', undefined, eb));
  return out;
}

// ------------------------------------------------------------------ one file

export type StageName = 'load' | 'pull' | 'shadow' | 'generate' | 'apply' | 'ir-roundtrip' | 'dump-compare';

export interface FileReport {
  file: string;
  label: string;
  load?: LoadResult;
  counts?: Counts;
  unmodelled?: Record<string, number>;
  stages: Partial<Record<StageName, 'ok' | 'failed' | 'skipped'>>;
  failure?: { stage: StageName; message: string };
  /** --promote-fk-indexes: the unique indexes of A turned into constraints. */
  promoted?: string[];
  /** Ferry's own Postgres shadow failed; the scratch-database shadow was used instead. */
  ferryShadowError?: string;
  migrations?: { files: number; statements: number; phases: string[] };
  prerequisites?: { entries: number; copied: number; failed: Array<{ entry: string; error: string }> };
  /** normalise(DSL) vs introspect(A): what the pull test asserts. */
  pullDiffs?: string[];
  /** introspect(B) vs introspect(A): the Ferry-level round trip. */
  irDiffs?: string[];
  /** diffSchemas(introspect(B), target): should be empty. */
  rediff?: string[];
  dumpDiffs?: DumpDifference[];
}

export interface Options {
  outRoot: string;
  /** Promote unique indexes that foreign keys depend on to unique constraints in A (see --promote-fk-indexes). */
  promoteFkIndexes: boolean;
}

/**
 * `--promote-fk-indexes`: a foreign key may rest on a plain unique index, but
 * Ferry creates foreign keys before indexes, so such a schema cannot be
 * recreated. To see past that, turn those indexes into unique constraints in
 * A (`ADD CONSTRAINT ... UNIQUE USING INDEX`) before pulling. Off by default.
 */
async function promoteFkIndexes(url: string): Promise<string[]> {
  const rows = await query<{ table_name: string; index_name: string }>(
    url,
    `select distinct c.relname::text as table_name, ic.relname::text as index_name
       from pg_constraint fk
       join pg_index i on i.indexrelid = fk.conindid
       join pg_class ic on ic.oid = i.indexrelid
       join pg_class c on c.oid = i.indrelid
       join pg_namespace n on n.oid = c.relnamespace
      where fk.contype = 'f' and n.nspname = 'public'
        and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.contype in ('p', 'u', 'x'))`,
  );
  const done: string[] = [];
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const r of rows) {
      const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;
      await client.query(
        `alter table ${ident(r.table_name)} add constraint ${ident(r.index_name)} unique using index ${ident(r.index_name)}`,
      );
      done.push(`${r.table_name}.${r.index_name}`);
    }
  } finally {
    await client.end();
  }
  return done;
}

export async function roundTrip(file: string, options: Options): Promise<FileReport> {
  const outRoot = options.outRoot;
  const label = basename(file).replace(/\.sql$/, '');
  const out = join(outRoot, label);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const report: FileReport = { file: resolve(file), label, stages: {} };
  const id = `ferry_rw_${process.pid}_${randomBytes(3).toString('hex')}`;
  const names = { a: `${id}_a`, b: `${id}_b`, s: `${id}_s` };
  const handles: DbHandle[] = [];
  const open = async (url: string) => {
    const h = await openDatabase({ url, pool: { max: 2 } });
    handles.push(h);
    return h;
  };
  let current: StageName = 'load';
  const stage = async <T>(name: StageName, fn: () => Promise<T>): Promise<T> => {
    current = name;
    const value = await fn();
    report.stages[name] = 'ok';
    return value;
  };

  try {
    // 1. A
    const { url: urlA, load } = await loadInto(names.a, file);
    report.load = load;
    if (load.status === 'failed') throw new Error(`load failed: ${load.strictError}`);
    report.stages.load = 'ok';
    if (options.promoteFkIndexes) report.promoted = await promoteFkIndexes(urlA);
    const a = await open(urlA);
    const irA = await introspect(a.db);
    writeFileSync(join(out, 'ir-a.json'), JSON.stringify(irA, null, 2));
    report.counts = irCounts(irA);
    report.unmodelled = await unmodelledCounts(urlA);
    const dumpAText = await pgDump(urlA);
    writeFileSync(join(out, 'dump-a.sql'), dumpAText);
    const dumpA = parseDump(dumpAText);
    const prereqs = prerequisites(dumpA);

    // 2. pull
    const schema = await stage('pull', async () => {
      const moduleFile = join(out, 'schema.ts');
      writeFileSync(moduleFile, renderSchemaModule(irA, { importFrom: SRC_INDEX }));
      return defineSchema(await importModule(moduleFile, 'pulled schema'));
    });

    // 3. normalise through a shadow, then plan from empty
    const target = await stage('shadow', async () => {
      // The shadow's database gets what B gets first: in real use the shadow lives in the
      // live database, next to its extensions and functions.
      const urlS = await createDatabase(names.s);
      await copyPrerequisites(urlS, dumpA.preamble, prereqs);
      const shadow = await openShadow({ url: urlS });
      try {
        return await normalise(shadow, schema.toIR());
      } catch (err) {
        report.ferryShadowError = firstLine(err);
      } finally {
        await shadow.close();
      }
      // Fallback: the scratch database itself, prerequisites in public, default search_path.
      const s = await open(urlS);
      return normalise(databaseShadow(s), schema.toIR());
    });
    writeFileSync(join(out, 'ir-target.json'), JSON.stringify(target, null, 2));
    report.pullDiffs = irDiff(irA, target);

    const dir = join(out, 'migrations');
    const planned = await stage('generate', async () => {
      const planned = planMigrations(diffSchemas(EMPTY, target), 'pull');
      const now = Date.UTC(2000, 0, 1);
      planned.forEach((m, i) => {
        writeMigration(dir, { name: m.name, up: m.up, down: m.down, now: new Date(now + i * 1000) });
      });
      return planned;
    });
    report.migrations = {
      files: planned.length,
      statements: planned.reduce((n, m) => n + m.changes.reduce((k, c) => k + c.up.length, 0), 0),
      phases: [...new Set(planned.map((m) => m.phase))],
    };

    // 4. B
    const urlB = await createDatabase(names.b);
    const b = await stage('apply', async () => {
      const first = await copyPrerequisites(urlB, dumpA.preamble, prereqs);
      const b = await open(urlB);
      const result = await new Migrator(b.db, { dir, statementLockTimeoutMs: 0, statementTimeoutMs: 0 }).up();
      const again = await copyPrerequisites(urlB, dumpA.preamble, first.pending);
      report.prerequisites = {
        entries: prereqs.length,
        copied: first.copied + again.copied,
        failed: again.pending.map((e) => ({ entry: `${e.type} ${e.name}`, error: again.errors.get(keyOf(e)) ?? '' })),
      };
      if (!result.ok) {
        const failed = result.results.find((r) => r.status === 'failed');
        const e = failed?.error;
        throw new Error(
          `${failed?.id}: ${e?.message}${e?.line ? ` (line ${e.line})` : ''}\n    ${e?.statement.slice(0, 400)}`,
        );
      }
      return b;
    });

    // 5. compare
    current = 'ir-roundtrip';
    const irB = await introspect(b.db);
    writeFileSync(join(out, 'ir-b.json'), JSON.stringify(irB, null, 2));
    report.irDiffs = irDiff(irA, irB);
    if (report.irDiffs.length === 0 && !isDeepStrictEqual(irA, irB)) report.irDiffs.push('(not deep-equal)');
    report.rediff = diffSchemas(irB, target).map((c) => c.description);
    report.stages['ir-roundtrip'] = report.irDiffs.length === 0 ? 'ok' : 'failed';

    current = 'dump-compare';
    const dumpBText = await pgDump(urlB);
    writeFileSync(join(out, 'dump-b.sql'), dumpBText);
    report.dumpDiffs = compareDumps(dumpA, parseDump(dumpBText));
    report.stages['dump-compare'] = 'ok';
  } catch (err) {
    report.stages[current] = 'failed';
    report.failure = { stage: current, message: err instanceof Error ? err.message : String(err) };
  } finally {
    for (const h of handles) await h.close().catch(() => {});
    for (const name of Object.values(names)) {
      if (live.has(name)) await dropDatabase(name).catch((err) => console.error(`drop ${name}: ${err}`));
    }
    writeFileSync(join(out, 'report.json'), JSON.stringify(report, null, 2));
  }
  return report;
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n').slice(0, 2).join(' / ');
}

/** A Shadow on a whole scratch database (public schema, default search_path); normalise() is its only user. */
function databaseShadow(handle: DbHandle): Shadow {
  return {
    db: handle.db,
    async reset() {
      // A fresh database holding only the copied prerequisites: nothing to drop.
    },
    async apply(statements) {
      for (const [i, statement] of statements.entries()) {
        try {
          await sql.raw(statement).execute(handle.db);
        } catch (err) {
          throw new Error(`scratch shadow rejected statement ${i + 1}: ${(err as Error).message}\n${statement}`);
        }
      }
    },
    introspect: () => introspect(handle.db),
    close: async () => {},
  };
}

// ------------------------------------------------------------------ output

export function printReport(r: FileReport): void {
  console.log(`\n=== ${r.label}  (${r.file})`);
  const l = r.load;
  if (l) {
    const ext = [
      l.precreated.length ? `extensions created first: ${l.precreated.join(', ')}` : '',
      l.unavailable.length ? `not available here: ${l.unavailable.join(', ')}` : '',
    ].filter(Boolean);
    console.log(`load: ${l.status}${ext.length ? ` (${ext.join('; ')})` : ''}`);
    if (l.strictError) console.log(`  strict load failed: ${l.strictError}`);
    if (l.status === 'partial') {
      console.log(`  best-effort load: ${l.partialErrorCount} statement errors, e.g.`);
      for (const e of l.partialErrors) console.log(`    ${e}`);
    }
  }
  if (r.counts) {
    const c = r.counts;
    console.log(
      `A (IR): ${c.tables} tables, ${c.enums} enums, ${c.indexes} indexes, ${c.constraints} constraints ` +
        `(${c.pk} pk, ${c.unique} unique, ${c.fk} fk, ${c.check} check)${c.views ? `, ${c.views} views` : ''}`,
    );
  }
  if (r.unmodelled) {
    const present = Object.entries(r.unmodelled).filter(([, n]) => n > 0);
    console.log(`A (not in the IR): ${present.map(([k, n]) => `${n} ${k.replace('_', ' ')}`).join(', ') || 'nothing'}`);
  }
  if (r.promoted?.length) {
    console.log(
      `--promote-fk-indexes: ${r.promoted.length} unique index(es) made constraints in A: ${r.promoted.join(', ')}`,
    );
  }
  if (r.ferryShadowError) {
    console.log(`Ferry's Postgres shadow FAILED (scratch-database shadow used instead): ${r.ferryShadowError}`);
  }
  if (r.migrations) {
    console.log(
      `generated: ${r.migrations.files} migration(s) [${r.migrations.phases.join(', ')}], ${r.migrations.statements} statements`,
    );
  }
  if (r.prerequisites) {
    const p = r.prerequisites;
    console.log(`prerequisites copied to B: ${p.copied}/${p.entries}${p.failed.length ? `, failed:` : ''}`);
    for (const f of p.failed.slice(0, 5)) console.log(`    ${f.entry}: ${f.error}`);
  }
  if (r.failure) console.log(`FAILED at ${r.failure.stage}: ${r.failure.message}`);
  const list = (title: string, items: string[] | undefined, max = 40) => {
    if (!items) return;
    console.log(`${title}: ${items.length === 0 ? 'yes' : `NO (${items.length} differences)`}`);
    for (const i of items.slice(0, max)) console.log(`    ${i}`);
    if (items.length > max) console.log(`    ... ${items.length - max} more`);
  };
  list('pull fidelity, normalise(DSL) == introspect(A)', r.pullDiffs);
  list('IR round trip, introspect(B) == introspect(A)', r.irDiffs);
  list('re-diff B against the DSL is empty', r.rediff);
  if (r.dumpDiffs) {
    const groups = groupDiffs(r.dumpDiffs);
    console.log(`pg_dump A vs B: ${r.dumpDiffs.length} differing entries`);
    for (const [kind, items] of groups) {
      if (!items[0]!.byDesign) continue;
      console.log(`  [by design] ${kind}: ${items.length} (${sample(items)})`);
    }
    for (const [kind, items] of groups) {
      if (items[0]!.byDesign) continue;
      console.log(`  [UNEXPLAINED] ${kind}: ${items.length}`);
      for (const i of items.slice(0, 10)) {
        console.log(`    ${i.side === 'both' ? 'changed' : `only in ${i.side}`}: ${i.type} ${i.name}`);
        if (i.a !== undefined) console.log(`      A: ${clip(i.a)}`);
        if (i.b !== undefined) console.log(`      B: ${clip(i.b)}`);
      }
    }
  }
}

const clip = (s: string, n = 600) => (s.length > n ? `${s.slice(0, n)}...` : s);
const sample = (items: DumpDifference[]) => {
  const names = [...new Set(items.map((i) => `${i.side === 'both' ? '~' : i.side === 'A' ? '-' : '+'}${i.name}`))];
  return names.slice(0, 4).join(', ') + (names.length > 4 ? ', ...' : '');
};

function groupDiffs(diffs: DumpDifference[]): Map<string, DumpDifference[]> {
  const groups = new Map<string, DumpDifference[]>();
  for (const d of diffs) {
    const kind = d.byDesign ? d.kind : d.kind.replace(/:.*$/, '');
    groups.set(kind, [...(groups.get(kind) ?? []), d]);
  }
  return new Map([...groups].sort(([x], [y]) => (x < y ? -1 : 1)));
}

export function printSummary(reports: FileReport[]): void {
  const rows = reports.map((r) => {
    const c = r.counts;
    const diffs = r.dumpDiffs ?? [];
    const byDesign = [...groupDiffs(diffs.filter((d) => d.byDesign))].map(([k, v]) => `${k} ${v.length}`);
    const unexplained = diffs.filter((d) => !d.byDesign).length;
    const ok = (s: StageName) => r.stages[s] ?? '-';
    return [
      r.label,
      r.load?.status ?? '-',
      c ? String(c.tables) : '-',
      c ? String(c.enums) : '-',
      c ? String(c.indexes) : '-',
      c ? String(c.constraints) : '-',
      `${ok('pull')}/${r.ferryShadowError ? 'fallback' : ok('shadow')}/${ok('generate')}/${ok('apply')}`,
      r.irDiffs ? (r.irDiffs.length === 0 ? 'equal' : `${r.irDiffs.length} diffs`) : '-',
      r.rediff ? String(r.rediff.length) : '-',
      r.dumpDiffs ? String(unexplained) : '-',
      r.dumpDiffs ? byDesign.join(', ') || 'none' : (r.failure?.message.split('\n')[0]?.slice(0, 80) ?? ''),
    ];
  });
  const head = [
    'schema',
    'load',
    'tables',
    'enums',
    'indexes',
    'constraints',
    'pull/shadow/gen/apply',
    'IR(B)=IR(A)',
    're-diff',
    'unexplained',
    'by-design dump differences',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === head.length - 1 ? 0 : r[i]!.length))));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join(' | ');
  console.log('\n=== summary');
  console.log(line(head));
  console.log(widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? head[i]!.length : w)).join('-|-'));
  for (const r of rows) console.log(line(r));
}
