/**
 * The import bench's printout: the main table (import, verify, ratios, peak
 * RSS per shape × size × backend), the reference contenders, the CPU per
 * record by stage, and one pass/fail line per goal of issue 13 with its figure.
 */
import { availableParallelism } from 'node:os';
import { printTable } from './lib.js';

/** What an import-child.ts run printed (import or verify mode), or the error it ended with. */
export interface ChildRun {
  ms: number;
  maxRssMb: number;
  cpuMs?: number;
  userMs?: number;
  systemMs?: number;
  error?: string;
  /** import: the ImportReport; verify: ok, records and per-table differences. */
  report?: { ok?: boolean; records: number; tables?: unknown; keyMemoryBytes?: number | null };
}

/** import-child.ts in `stages` mode: CPU ms per phase over `records` records. */
export interface StageRun {
  bytes: number;
  records: number;
  prepared: number;
  rows: number;
  phases: { read: number; source: number; prepare: number; map: number; validatePass?: number; validateMap?: number };
  maxRssMb: number;
  error?: string;
}

export interface ImportCase {
  shape: string;
  messages: number;
  backend: 'postgres' | 'pglite';
  sourceBytes: number;
  rows?: number;
  records?: number;
  import?: ChildRun;
  verify?: ChildRun;
  rerun?: ChildRun;
  /** The Postgres server's CPU during the import child's run (pg-cpu.ts); Postgres backend only. */
  importPgCpuMs?: number;
  /** Postgres: `psql \copy` of the final rows; PGlite: its own COPY of them (import-child.ts `copy`). */
  copy?: { rows: number; ms: number; pgCpuMs?: number };
  /** Postgres, with FERRY_BENCH_IMPORT_REPEAT: every import's and every \copy's wall ms (the first are import / copy). */
  importRuns?: number[];
  copyRuns?: number[];
  seeds?: { rows: number; ms: number };
  stages?: StageRun;
  /** The case could not be completed (import failed, \copy mismatch, …). */
  error?: string;
}

export const GOALS = {
  verifyVsImport: 1.0,
  rssSpread: 0.1,
  rssMb: { postgres: 256, pglite: 512 },
  vsCopy: 0.7,
  pgliteVsPostgres: 0.5,
};

const r2 = (x: number) => Number(x.toFixed(2));
const s1 = (ms: number) => Number((ms / 1000).toFixed(1));
const rate = (rows: number | undefined, ms: number | undefined) =>
  rows !== undefined && ms ? rows / (ms / 1000) : undefined;
const size = (m: number) => (m >= 1_000_000 ? `${m / 1_000_000}M` : `${m / 1000}k`);
const dash = '—';

function verifyCell(v: ChildRun | undefined): string {
  if (!v) return dash;
  if (v.error) return `FAILED: ${v.error.replace(/\s+/g, ' ').slice(0, 70)}`;
  return v.report?.ok ? 'ok' : 'DIFFERENCES';
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
/** The import's wall ms: the median of its runs when repeated. */
const importMs = (c: ImportCase | undefined) =>
  c?.importRuns && c.importRuns.length > 0 ? median(c.importRuns) : c?.import?.ms;
/** `psql \copy`'s wall ms (Postgres cases): the median of its runs when repeated. */
const copyMs = (c: ImportCase | undefined) => (c?.copyRuns && c.copyRuns.length > 0 ? median(c.copyRuns) : c?.copy?.ms);

/** The Postgres case of the same shape and size (for \copy and the PGlite ratio). */
const postgresOf = (cases: ImportCase[], c: ImportCase) =>
  cases.find((x) => x.backend === 'postgres' && x.shape === c.shape && x.messages === c.messages);

const copyRate = (cases: ImportCase[], c: ImportCase) => {
  const pgCase = postgresOf(cases, c);
  return rate(pgCase?.copy?.rows, copyMs(pgCase));
};

export function printImportReport(cases: ImportCase[]): void {
  const main = cases.map((c) => {
    const ferryRate = rate(c.rows, importMs(c));
    const copy = copyRate(cases, c);
    const pgRate =
      c.backend === 'pglite' ? rate(postgresOf(cases, c)?.rows, importMs(postgresOf(cases, c))) : undefined;
    const vOk = c.verify && !c.verify.error;
    return {
      shape: c.shape,
      size: size(c.messages),
      'source MB': Math.round(c.sourceBytes / 1e6),
      backend: c.backend,
      rows: c.rows ?? dash,
      'import s': c.import ? s1(importMs(c) as number) : dash,
      'rows/s': ferryRate ? Math.round(ferryRate) : dash,
      'records/s': c.records && c.import ? Math.round(c.records / (c.import.ms / 1000)) : dash,
      'vs \\copy': ferryRate && copy ? r2(ferryRate / copy) : dash,
      'vs Postgres': ferryRate && pgRate ? r2(ferryRate / pgRate) : dash,
      'import RSS MB': c.import ? Math.round(c.import.maxRssMb) : dash,
      'verify s': c.verify ? s1(c.verify.ms) : dash,
      'verify/import': c.verify && c.import ? r2(c.verify.ms / c.import.ms) : dash,
      'verify RSS MB': vOk ? Math.round(c.verify!.maxRssMb) : dash,
      verify: c.error ? `CASE FAILED: ${c.error.slice(0, 60)}` : verifyCell(c.verify),
    };
  });
  printTable(
    'legacy import: Ferry import and `ferry verify`, each in its own process (verify/import: < 1 is faster than the import)',
    main,
  );

  const reference: Record<string, string | number>[] = [];
  const contender = (c: ImportCase, name: string, rows: number | undefined, ms: number) =>
    reference.push({
      shape: c.shape,
      size: size(c.messages),
      backend: c.backend,
      contender: name,
      rows: rows ?? dash,
      s: s1(ms),
      'rows/s': Math.round(rate(rows, ms) ?? 0),
    });
  for (const c of cases) {
    if (c.copy && c.backend === 'postgres') {
      const runs = c.copyRuns && c.copyRuns.length > 1 ? ` (median of ${c.copyRuns.length})` : '';
      contender(c, `psql \\copy of the final rows${runs}`, c.copy.rows, copyMs(c) as number);
    }
    if (c.copy && c.backend === 'pglite') {
      contender(c, "PGlite's own COPY of the final rows (4 MB chunks, no Ferry work)", c.copy.rows, c.copy.ms);
    }
    if (c.seeds) contender(c, 'INSERT per row, 1 txn (reference only)', c.seeds.rows, c.seeds.ms);
    if (c.rerun) contender(c, 'ferry import again, unchanged', c.rows, c.rerun.ms);
  }
  printTable('reference contenders (same run)', reference);

  printCpu(cases);
  printBound(cases);
  printGoals(cases);
}

/**
 * The fastest wall time the import's own CPU allows on this machine: Node
 * (one thread) and the Postgres server share the cores, so no schedule takes
 * less than max(Node, Postgres, (Node + Postgres) / cores) — undefined when
 * the Postgres CPU could not be read.
 */
export function cpuBoundMs(nodeMs: number, pgMs: number | undefined, cores = availableParallelism()) {
  if (pgMs === undefined) return undefined;
  return Math.max(nodeMs, pgMs, (nodeMs + pgMs) / cores);
}

/** Node and Postgres CPU per row, for the import and for `psql \copy`, and what they allow against \copy. */
function printBound(cases: ImportCase[]): void {
  const rows: Record<string, string | number>[] = [];
  const us = (ms: number | undefined, n: number) => (ms === undefined ? dash : Number(((ms * 1000) / n).toFixed(1)));
  for (const c of cases) {
    if (c.backend !== 'postgres' || !c.import?.cpuMs || !c.rows || !c.copy) continue;
    const bound = cpuBoundMs(c.import.cpuMs, c.importPgCpuMs);
    rows.push({
      shape: c.shape,
      size: size(c.messages),
      rows: c.rows,
      'import: Node CPU': us(c.import.cpuMs, c.rows),
      'import: Postgres CPU': us(c.importPgCpuMs, c.rows),
      'import: wall': us(c.import.ms, c.rows),
      'import: CPU bound (wall)': us(bound, c.rows),
      '\\copy: Postgres CPU': us(c.copy.pgCpuMs, c.rows),
      '\\copy: wall': us(c.copy.ms, c.rows),
      'vs \\copy': r2(c.copy.ms / c.import.ms),
      'vs \\copy at the CPU bound': bound ? r2(c.copy.ms / bound) : dash,
    });
  }
  printTable(
    `Postgres: CPU µs per row and the ${availableParallelism()}-core bound = max(Node, Postgres, (Node + Postgres) / ` +
      `${availableParallelism()}): the best "vs \\copy" the import's CPU allows (Postgres CPU: every postgres process, /proc)`,
    rows,
  );
}

/**
 * CPU µs per record by stage. read, parse, map, validate+encode come from the
 * stages child (no database); send = the import child's CPU across runImport
 * minus the stages' prepare pass, so it is the Node side of COPY/upsert and
 * checkpoints — on PGlite it also holds the embedded database's own work,
 * which runs in the same process.
 */
function printCpu(cases: ImportCase[]): void {
  const rows: Record<string, string | number>[] = [];
  const seen = new Set<string>();
  for (const c of cases) {
    const st = c.stages;
    const key = `${c.shape}/${c.messages}`;
    if (!st || seen.has(key)) continue;
    seen.add(key);
    if (st.error) {
      rows.push({ shape: c.shape, size: size(c.messages), records: dash, read: `FAILED: ${st.error.slice(0, 60)}` });
      continue;
    }
    const per = (ms: number) => Number(((ms * 1000) / st.records).toFixed(1));
    const p = st.phases;
    const sendOf = (backend: string) => {
      const x = cases.find((y) => y.shape === c.shape && y.messages === c.messages && y.backend === backend);
      return x?.import?.cpuMs !== undefined ? per(x.import.cpuMs - p.prepare) : dash;
    };
    const totalOf = (backend: string) => {
      const x = cases.find((y) => y.shape === c.shape && y.messages === c.messages && y.backend === backend);
      return x?.import?.cpuMs !== undefined ? per(x.import.cpuMs) : dash;
    };
    rows.push({
      shape: c.shape,
      size: size(c.messages),
      records: st.records,
      'rows/record': Number((st.rows / st.records).toFixed(1)),
      read: per(p.read),
      parse: per(p.source - p.read),
      'map (user code)': per(p.map),
      ...(p.validatePass !== undefined && p.validateMap !== undefined
        ? {
            validate: per(p.validatePass - p.source - p.validateMap),
            encode: per(p.prepare - p.source - p.map - (p.validatePass - p.source - p.validateMap)),
          }
        : {}),
      'validate+encode': per(p.prepare - p.source - p.map),
      'prepare total': per(p.prepare),
      'send (Postgres)': sendOf('postgres'),
      'import total (Postgres)': totalOf('postgres'),
      'send (PGlite, incl. its DB)': sendOf('pglite'),
      'import total (PGlite)': totalOf('pglite'),
    });
  }
  printTable(
    'Node CPU µs per source record by stage (user+sys; read = bytes only, parse = records − read, map = time in the ' +
      "example's map(), validate+encode = prepareBatches − records − map, of which validate = a pass of map + checkRow " +
      '− records − map and encode the rest, send = import CPU − prepareBatches)',
    rows,
  );
}

function printGoals(cases: ImportCase[]): void {
  const lines: string[] = [];
  const mark = (ok: boolean | undefined) => (ok === undefined ? 'n/a ' : ok ? 'PASS' : 'FAIL');
  const at = (c: ImportCase) => `${c.shape} ${size(c.messages)} ${c.backend}`;

  lines.push(`verify <= ${GOALS.verifyVsImport}x the import's wall time, peak RSS within the import's (goal at 1M):`);
  for (const c of cases) {
    if (!c.import || !c.verify) continue;
    if (c.verify.error) {
      lines.push(`  FAIL ${at(c)}: verify failed after ${s1(c.verify.ms)} s: ${c.verify.error.replace(/\s+/g, ' ')}`);
      continue;
    }
    const ratio = c.verify.ms / c.import.ms;
    const ok = c.verify.report?.ok === true;
    lines.push(
      `  ${mark(ok && ratio <= GOALS.verifyVsImport)} ${at(c)}: verify ${s1(c.verify.ms)} s / import ${s1(c.import.ms)} s = ` +
        `${r2(ratio)}x${ok ? '' : ' (verify found DIFFERENCES)'}`,
    );
    lines.push(
      `  ${mark(c.verify.maxRssMb <= c.import.maxRssMb)} ${at(c)}: verify peak RSS ${Math.round(c.verify.maxRssMb)} MB ` +
        `vs import ${Math.round(c.import.maxRssMb)} MB`,
    );
  }

  lines.push(
    `import peak RSS <= ${GOALS.rssMb.postgres} MB on Postgres, <= ${GOALS.rssMb.pglite} MB on PGlite; ` +
      `smallest and largest size within ${GOALS.rssSpread * 100}% of each other:`,
  );
  const groups = new Map<string, ImportCase[]>();
  for (const c of cases) {
    if (!c.import) continue;
    const k = `${c.shape} ${c.backend}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  for (const [k, group] of groups) {
    for (const c of group) {
      const cap = GOALS.rssMb[c.backend];
      lines.push(`  ${mark(c.import!.maxRssMb <= cap)} ${at(c)}: ${Math.round(c.import!.maxRssMb)} MB (cap ${cap} MB)`);
    }
    if (group.length > 1) {
      const sorted = [...group].sort((x, y) => x.messages - y.messages);
      const lo = sorted[0]!.import!.maxRssMb;
      const hi = sorted.at(-1)!.import!.maxRssMb;
      const spread = Math.abs(hi - lo) / Math.min(hi, lo);
      // The exact duplicate-key set grows with the distinct keys by design (~10 B a key, no less than
      // ~5.5 B for 64-bit fingerprints): the spread without it is what the rest of the import adds.
      const keyMb = (c: ImportCase) => (c.import?.report?.keyMemoryBytes ?? Number.NaN) / 2 ** 20;
      const loKeys = keyMb(sorted[0]!);
      const hiKeys = keyMb(sorted.at(-1)!);
      const rest = Number.isNaN(loKeys + hiKeys)
        ? ''
        : `; duplicate-key sets ${loKeys.toFixed(1)} and ${hiKeys.toFixed(1)} MB, without them ` +
          `${Math.round((Math.abs(hi - hiKeys - (lo - loKeys)) / Math.min(hi - hiKeys, lo - loKeys)) * 100)}% apart`;
      lines.push(
        `  ${mark(spread <= GOALS.rssSpread)} ${k}: ${size(sorted[0]!.messages)} ${Math.round(lo)} MB vs ` +
          `${size(sorted.at(-1)!.messages)} ${Math.round(hi)} MB: ${Math.round(spread * 100)}% apart${rest}`,
      );
    }
  }

  lines.push(`Ferry on Postgres >= ${GOALS.vsCopy}x psql \\copy of the same rows (goal at 1M, both shapes):`);
  const secs = (xs: number[]) => xs.map((x) => s1(x)).join(', ');
  for (const c of cases) {
    const ferry = rate(c.rows, importMs(c));
    const copy = c.backend === 'postgres' ? rate(c.copy?.rows, copyMs(c)) : undefined;
    if (!ferry || !copy) continue;
    const bound = c.import?.cpuMs !== undefined ? cpuBoundMs(c.import.cpuMs, c.importPgCpuMs) : undefined;
    const limit = bound && c.copy ? `; the first run's CPU allowed at most ${r2(c.copy.ms / bound)}x` : '';
    const runs =
      c.importRuns && c.copyRuns && c.importRuns.length > 1
        ? ` (medians; import ${secs(c.importRuns)} s, \\copy ${secs(c.copyRuns)} s)`
        : '';
    lines.push(
      `  ${mark(ferry / copy >= GOALS.vsCopy)} ${at(c)}: ${Math.round(ferry)} vs ${Math.round(copy)} rows/s = ` +
        `${r2(ferry / copy)}x${runs}${limit}`,
    );
  }

  lines.push(`PGlite import throughput >= ${GOALS.pgliteVsPostgres}x the same import on Postgres:`);
  for (const c of cases) {
    if (c.backend !== 'pglite') continue;
    const mine = rate(c.rows, c.import?.ms);
    const pgCase = postgresOf(cases, c);
    const theirs = rate(pgCase?.rows, importMs(pgCase));
    if (!mine || !theirs) continue;
    // The embedded database runs on the import's main thread: no import into it outruns its own COPY of the rows.
    const own = rate(c.copy?.rows, c.copy?.ms);
    const limit = own
      ? `; PGlite's own COPY of these rows (${Math.round(own)} rows/s) allows at most ${r2(own / theirs)}x`
      : '';
    lines.push(
      `  ${mark(mine / theirs >= GOALS.pgliteVsPostgres)} ${c.shape} ${size(c.messages)}: PGlite ${Math.round(mine)} vs ` +
        `Postgres ${Math.round(theirs)} rows/s = ${r2(mine / theirs)}x${limit}`,
    );
  }

  const failed = cases.filter((c) => c.error);
  if (failed.length > 0) {
    lines.push('cases that could not be completed:');
    for (const c of failed) lines.push(`  ${at(c)}: ${c.error}`);
  }
  console.log(`\ngoals (issue 13)\n${lines.join('\n')}`);
}
