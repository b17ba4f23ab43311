/**
 * One Ferry import, verify or CPU-stage run in its own process, so that its
 * peak RSS is its own: `node --import tsx bench/import-child.ts` with
 *   FERRY_BENCH_MODE      import (default) | verify | stages | prepare-db | copy
 *   FERRY_BENCH_SHAPE     chatcore | council
 *   FERRY_BENCH_DATA      the TinyDB file (chatcore) or the data folder (council)
 *   FERRY_BENCH_URL       the database (postgres://… or pglite:<dir>); not used by `stages`
 *   FERRY_BENCH_MIGRATE   prepare-db: the migration up.sql to apply (PGlite: creates and migrates the
 *                         data dir in its own process, so the import opens an existing, migrated one)
 *   FERRY_BENCH_COPY      copy: JSON [{ table, columns, file }], parents first: the rendered CSV files
 *                         COPied into the (migrated) database in chunks of whole records, ~4 MB each,
 *                         one transaction per table — on PGlite, the embedded database's own limit
 *                         (its COPY of the final rows, no Ferry work), as `psql \copy` is the server's
 *   FERRY_BENCH_BATCH     batch size (default: the importer's)
 *   FERRY_BENCH_WORKER    1 | 0 | auto: batches prepared in a worker thread (default auto, as `ferry import`:
 *                         on for PGlite, off for Postgres)
 * Prints one JSON line: the report (or the error), wall time, CPU and peak RSS.
 *
 * `verify` calls `verifyImport` exactly as `ferry verify` does (same
 * definition, name = the definition's name); a failure is printed as
 * `{ error }`, not thrown, so the bench can put it in its table.
 *
 * `stages` is the CPU-per-record breakdown, measured from outside src/import
 * with what is observable, each phase a separate pass over the source in this
 * one process, CPU = `process.cpuUsage()` (user + system) across the pass:
 *   read      the source's bytes only: the file streamed, or a folder's files read,
 *             and dropped (the second of two passes, with the page cache warm)
 *   source    the source's records (`readRecords`): read + parse
 *   prepare   `prepareBatches` with the real map: read + parse + map +
 *             validate + encode (checks, de-duplication, CSV lines), no database
 *   map       inside the prepare pass, the wall time of each map() call up to
 *             its first await (the example's map is synchronous apart from its
 *             `async` wrapper); single-threaded, so this is CPU spent in map
 *   validate  read + parse + map + `checkRow` on every mapped row (a separate
 *             pass doing what prepareBatches does before it encodes), map timed
 *             inside it as in prepare
 * parse = source − read; validate = validate pass − source − its map; encode =
 * prepare − source − map − validate (de-duplication, grouping, CSV). `send` (COPY,
 * upsert, checkpoint: the Node side of talking to the database) is the import
 * child's CPU across `runImport` minus prepare, computed by the bench. The
 * passes run in the order above, so later ones run with a warmer JIT; GC is
 * counted in whichever pass it happens.
 */
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { peakRssMb } from './lib.js';

const mode = process.env.FERRY_BENCH_MODE ?? 'import';
const shape = process.env.FERRY_BENCH_SHAPE;
const data = process.env.FERRY_BENCH_DATA as string;
const url = process.env.FERRY_BENCH_URL as string;
if (shape === 'chatcore') process.env.CHATCORE_DATA = data;
else if (shape === 'council') process.env.COUNCIL_DATA = data;
else throw new Error(`FERRY_BENCH_SHAPE must be chatcore or council, got ${shape}`);

// The import modules read their data path when loaded: import them after setting it.
const definition =
  shape === 'chatcore'
    ? (await import('../examples/chatcore/import.js')).default
    : (await import('../examples/council/import.js')).default;

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

const print = (result: Record<string, unknown>) => {
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({
      ...result,
      maxRssMb: peakRssMb(),
      userMs: usage.userCPUTime / 1000,
      systemMs: usage.systemCPUTime / 1000,
    })}\n`,
  );
};

const errorOf = (err: unknown) => {
  const e = err as { code?: string; message?: string };
  return `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`.slice(0, 500);
};

if (mode === 'stages') await stages();
else await withDatabase();

async function withDatabase() {
  const { openDatabase } = await import('../src/db/open.js');
  const db = await openDatabase({ url });
  // As `ferry import --worker auto` (and verify): on for the embedded database, off for a server.
  const workerWhen = process.env.FERRY_BENCH_WORKER ?? 'auto';
  const worker =
    workerWhen === '1' || (workerWhen === 'auto' && db.backend === 'pglite')
      ? { module: fileURLToPath(new URL(`../examples/${shape}/import.ts`, import.meta.url)) }
      : undefined;
  try {
    if (mode === 'prepare-db') {
      const started = performance.now();
      await db.session((s) => s.query(readFileSync(process.env.FERRY_BENCH_MIGRATE as string, 'utf8')));
      print({ ms: performance.now() - started });
    } else if (mode === 'import') {
      const { runImport } = await import('../src/import/loader.js');
      const batchSize = process.env.FERRY_BENCH_BATCH ? Number(process.env.FERRY_BENCH_BATCH) : undefined;
      const cpu = process.cpuUsage();
      const started = performance.now();
      const report = await runImport({
        db,
        definition,
        rejectsFile: null,
        ...(batchSize ? { batchSize } : {}),
        ...(worker ? { worker } : {}),
      });
      const ms = performance.now() - started;
      print({ ms, cpuMs: cpuMs(cpu), report });
    } else if (mode === 'verify') {
      const { verifyImport } = await import('../src/import/verify.js');
      const cpu = process.cpuUsage();
      const started = performance.now();
      // When the last batch was staged: the rest of verify's wall time is its comparisons.
      let stagedAt = started;
      try {
        const report = await verifyImport({
          db,
          definition,
          name: definition.name ?? 'import',
          onProgress: () => {
            stagedAt = performance.now();
          },
          ...(worker ? { worker } : {}),
        });
        const ms = performance.now() - started;
        // The per-table detail is long; the bench needs ok, records and the differences.
        const tables = report.tables.map((t) => ({
          table: t.table,
          expected: t.expected,
          actual: t.actual,
          missing: t.missing,
          different: t.different,
          extra: t.extra,
          checksumsEqual: t.sourceChecksum === t.databaseChecksum,
        }));
        print({
          ms,
          stagedMs: stagedAt - started,
          cpuMs: cpuMs(cpu),
          report: { ok: report.ok, records: report.records, tables },
        });
      } catch (err) {
        print({ ms: performance.now() - started, cpuMs: cpuMs(cpu), error: errorOf(err) });
      }
    } else if (mode === 'copy') {
      const tables = JSON.parse(process.env.FERRY_BENCH_COPY as string) as {
        table: string;
        columns: string[];
        file: string;
      }[];
      const quote = (ident: string) => `"${ident.replace(/"/g, '""')}"`;
      const cpu = process.cpuUsage();
      const started = performance.now();
      let rows = 0;
      for (const t of tables) {
        const copy = `copy ${quote(t.table)} (${t.columns.map(quote).join(', ')}) from stdin with (format csv)`;
        await db.session(async (s) => {
          await s.query('begin');
          for await (const chunk of csvChunks(t.file, 4 * 1024 * 1024)) {
            await s.copyIn(copy, chunk.bytes);
            rows += chunk.records;
          }
          await s.query('commit');
        });
      }
      print({ ms: performance.now() - started, cpuMs: cpuMs(cpu), rows });
    } else throw new Error(`FERRY_BENCH_MODE must be import, verify, stages, prepare-db or copy, got ${mode}`);
  } finally {
    await db.close();
  }
}

async function stages() {
  const { namedSources, readRecords } = await import('../src/import/records.js');
  const { prepareBatches } = await import('../src/import/prepare.js');
  const { planTargets, resolveSchema } = await import('../src/import/targets.js');
  const { KeySet } = await import('../src/import/key-set.js');
  const phases: Record<string, number> = {};

  // read: the bytes alone, twice, the second pass counted, so that filling the
  // page cache (kernel CPU the parse pass after it would not pay) stays out of it.
  // A folder's files are read whole (they are small); a single file streamed.
  let cpu = process.cpuUsage();
  let bytes = 0;
  for (let pass = 0; pass < 2; pass++) {
    cpu = process.cpuUsage();
    bytes = 0;
    const files = filesOf(data);
    if (files.length === 1) {
      for await (const chunk of createReadStream(files[0] as string, { highWaterMark: 1 << 20 })) {
        bytes += (chunk as Buffer).length;
      }
    } else for (const file of files) bytes += (await readFile(file)).length;
  }
  phases.read = cpuMs(cpu);

  // source: read + parse.
  let records = 0;
  let sources = namedSources(definition.source);
  cpu = process.cpuUsage();
  for await (const chunk of readRecords(sources)) records += chunk.length;
  phases.source = cpuMs(cpu);
  await Promise.all(sources.map((s) => s.source.close?.().catch(() => {})));

  // validate: read + parse + map + checkRow on every mapped row (what prepareBatches checks
  // before it encodes), map() timed inside it as below; validate = this − source − its map.
  const { ImportContext } = await import('../src/import/context.js');
  const { checkRow } = await import('../src/import/encode.js');
  const planned = planTargets(resolveSchema(definition.schema), definition.tables as Record<string, never>);
  const targetOf = new Map(planned.map((t) => [t.name, t]));
  let checkMapMs = 0;
  let ordinal = 0;
  sources = namedSources(definition.source);
  cpu = process.cpuUsage();
  for await (const chunk of readRecords(sources)) {
    for (const rec of chunk) {
      if (rec.record.kind !== 'record') continue;
      const ctx = new ImportContext(rec.record.loc, rec.name, ordinal++);
      let out: unknown;
      const t = performance.now();
      try {
        out = (definition.map as (...a: unknown[]) => unknown)(rec.record.value, ctx);
      } catch {
        out = undefined; // a rejected record: nothing to check
      }
      checkMapMs += performance.now() - t;
      // The example's map is synchronous inside its `async` wrapper: timed up to the promise, as in prepare below.
      if (out instanceof Promise) out = await out.catch(() => undefined);
      const rows = [...ctx.emitted];
      for (const [table, value] of Object.entries((out ?? {}) as Record<string, unknown>)) {
        if (value == null) continue;
        for (const row of Array.isArray(value) ? value : [value]) rows.push({ table, row });
      }
      for (const { table, row } of rows) {
        const target = targetOf.get(table);
        if (target) checkRow(target, row as Record<string, unknown>);
      }
    }
  }
  phases.validatePass = cpuMs(cpu);
  phases.validateMap = checkMapMs;
  await Promise.all(sources.map((s) => s.source.close?.().catch(() => {})));

  // prepare: read + parse + map + validate + encode, with map() timed inside it.
  let mapMs = 0;
  const userMap = definition.map as (...a: unknown[]) => unknown;
  const timed = {
    ...definition,
    map: (...args: unknown[]) => {
      const t = performance.now();
      try {
        return userMap(...args);
      } finally {
        mapMs += performance.now() - t;
      }
    },
  };
  // What timing a call costs, to take it out of `map` (two performance.now() and a closure call).
  const probe = performance.now();
  for (let i = 0; i < 100_000; i++) {
    const t = performance.now();
    mapMs += performance.now() - t;
  }
  const overheadPerCall = (performance.now() - probe) / 100_000;
  mapMs = 0;
  sources = namedSources(definition.source);
  const targets = planTargets(resolveSchema(definition.schema), definition.tables as Record<string, never>);
  const keySets = new Map(targets.map((t) => [t.name, new KeySet()]));
  let prepared = 0;
  let rows = 0;
  cpu = process.cpuUsage();
  for await (const batch of prepareBatches({ definition: timed as never, sources }, targets, keySets, 0, 5_000)) {
    prepared = batch.position;
    for (const groups of batch.groups.values()) for (const g of groups.values()) rows += g.lines.length;
  }
  phases.prepare = cpuMs(cpu);
  phases.map = Math.max(0, mapMs - overheadPerCall * prepared);
  await Promise.all(sources.map((s) => s.source.close?.().catch(() => {})));
  print({ bytes, records, prepared, rows, phases, timingOverheadUs: overheadPerCall * 1000 });
}

function filesOf(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name))
    .sort();
}

/**
 * A CSV file in chunks of whole records of about `size` bytes: a chunk ends
 * at a newline outside quotes (a quoted JSON value may hold newlines; a
 * doubled quote inside one leaves the parity as it was).
 */
async function* csvChunks(file: string, size: number): AsyncGenerator<{ bytes: Buffer; records: number }> {
  let pending: Buffer = Buffer.alloc(0);
  let quoted = false;
  let records = 0;
  /** Where the last record ending in `pending` ends (after its newline), scanning from `from`. */
  let scanned = 0;
  let lastEnd = 0;
  for await (const piece of createReadStream(file, { highWaterMark: 1 << 20 })) {
    pending = pending.length === 0 ? (piece as Buffer) : Buffer.concat([pending, piece as Buffer]);
    for (let i = scanned; i < pending.length; i++) {
      const b = pending[i];
      if (b === 0x22) quoted = !quoted;
      else if (b === 0x0a && !quoted) {
        records++;
        lastEnd = i + 1;
        if (lastEnd >= size) {
          yield { bytes: pending.subarray(0, lastEnd), records };
          pending = pending.subarray(lastEnd);
          i = -1;
          lastEnd = 0;
          records = 0;
        }
      }
    }
    scanned = pending.length;
  }
  if (pending.length > 0) yield { bytes: pending, records: records + (lastEnd < pending.length ? 1 : 0) };
}
