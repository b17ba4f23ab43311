/**
 * `ferry cutover ...`: the operator's side of a live cutover (ferry/cutover).
 * The app runs `defineCutover({ name, ... })`; these commands move its stage
 * in the database, which every instance follows.
 *
 *   ferry cutover status [name] [--json]
 *   ferry cutover advance <name> [--to STAGE] [--force]      exit 1 when a gate refuses
 *   ferry cutover rollback <name> [--to STAGE]
 *   ferry cutover ramp <name> <percent|default>
 *   ferry cutover verify <name> --file stores.ts [--json]     exit 1 on any difference
 *   ferry cutover mismatches <name> [--limit N] [--json]
 *
 * Exit codes as elsewhere: 0 done, 1 the command ran and found a problem (a
 * refused gate, instances that did not follow, a verify difference), 2 it
 * could not run (usage, no cutover of that name, a stage move not allowed).
 */
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { importModule, loadConfig } from '../../config.js';
import type {
  CutoverStatus,
  CutoverStore,
  MoveResult,
  Stage,
  ValueComparatorOptions,
  VerifyReport,
} from '../../cutover/index.js';
import type { DbHandle } from '../../db/open.js';
import { E_CONFIG, FerryError } from '../../errors.js';
import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';
import { durationMs, wholeNumber } from '../numbers.js';
import { EXIT_OK, EXIT_PROBLEM, errorPayload, knownSecrets, printError, printJson, printTable } from '../output.js';

interface CommonOptions {
  url?: string;
  json?: boolean;
}

interface MoveCliOptions extends CommonOptions {
  to?: Stage;
  force?: boolean;
  wait?: number;
  redis?: string | false;
  by?: string;
  window?: number;
  maxMismatchRate?: number;
  verify?: boolean;
}

/** Failures that are findings (exit 1), not a command that could not run (exit 2). */
const PROBLEMS = new Set(['E_CUTOVER_GATE', 'E_CUTOVER_INSTANCES']);

const STAGE_NAMES = 'off, dual-write, shadow, live, rampdown, complete';

function stage(value: string): Stage {
  if (!(STAGE_NAMES.split(', ') as string[]).includes(value)) {
    throw new InvalidArgumentError(`Expected a stage (${STAGE_NAMES}), got "${value}".`);
  }
  return value as Stage;
}

function rate(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) {
    throw new InvalidArgumentError(`Expected a rate from 0 to 1 (0.01 = 1%), got "${value}".`);
  }
  return n;
}

function percent(value: string): number | null {
  if (value === 'default') return null;
  return wholeNumber(0, 100)(value.replace(/%$/, ''));
}

const URL_HELP = 'database URL (default: DATABASE_URL, else the embedded database)';
const REDIS_HELP =
  'Redis to ring the instances at once (default: REDIS_URL when set; without it they follow at their next poll)';

const VERIFY_FILE_HELP = `
The --file module (an ES module: .ts/.js in a package with "type": "module", or .mts/.mjs)
default-exports the two stores, as an object or a function (may be async) given { url }
(the database URL this command uses):

  // cutover/users.ts
  import { connect } from 'ferry';
  import { jsonFileStore, repositoryStore } from 'ferry/cutover';
  import * as schema from '../src/schema.js';

  export default async ({ url }) => {
    const ferry = await connect({ url, schema });
    return {
      old: jsonFileStore('data/users.json'),
      new: repositoryStore(ferry.repo(schema.users)),
      compare: { table: schema.users, ignore: ['updated_at'] },  // as the app's defineCutover
      close: () => ferry.close(),                                // called when verify ends
    };
  };

Only list(), get() and label of each store are used; nothing is written. Give compare the
Ferry table, as the app does: values the stores spell differently then checksum alike.`;

export function registerCutover(program: Command, globals: () => GlobalOptions): void {
  const cutover = program
    .command('cutover')
    .description(
      'move a running app to a new store live (ferry/cutover): status, advance, rollback, ramp, verify, mismatches',
    );

  cutover
    .command('status [name]')
    .description('stage, ramp, instances, journal depth, comparisons, mismatches and the last verify of each cutover')
    .option('--url <url>', URL_HELP)
    .option('--json', 'print a JSON report')
    .action(async (name: string | undefined, options: CommonOptions) => {
      await withDatabase(globals, options, async (handle, { status }) => {
        const list = await status(handle, name);
        if (options.json) printJson({ ok: true, cutovers: list });
        else if (list.length === 0) process.stdout.write('No cutover is recorded in this database.\n');
        else for (const [i, s] of list.entries()) printStatus(s, i > 0);
      });
    });

  addMoveOptions(
    cutover
      .command('advance <name>')
      .description(
        'move to the next stage (or --to, stage by stage); shadow → live passes the gate first: exit 1 with the figures when it refuses',
      )
      .option('--to <stage>', `target stage (${STAGE_NAMES})`, stage)
      .option('--force', 'pass the gate anyway (recorded in the history with what was overridden)')
      .option('--window <n>', 'gate: the newest n shadow comparisons are judged (default 100)', wholeNumber(0))
      .option('--max-mismatch-rate <rate>', 'gate: highest mismatch rate that passes, 0 to 1 (default 0.01)', rate)
      .option('--no-verify', 'gate: do not require a clean verify (ferry cutover verify)'),
  ).action(async (name: string, options: MoveCliOptions) => {
    await withDatabase(globals, options, async (handle, { advance }) => {
      const result = await advance(handle, name, {
        ...moveOptions(options),
        force: options.force,
        gate: { window: options.window, maxMismatchRate: options.maxMismatchRate, requireVerify: options.verify },
      });
      printMove(result, 'advanced', options.json);
    });
  });

  addMoveOptions(
    cutover
      .command('rollback <name>')
      .description('go back one stage (or --to): no write is lost, the store returned to is written until complete')
      .option('--to <stage>', `target stage (${STAGE_NAMES})`, stage),
  ).action(async (name: string, options: MoveCliOptions) => {
    await withDatabase(globals, options, async (handle, { rollback }) => {
      printMove(await rollback(handle, name, moveOptions(options)), 'rolled back', options.json);
    });
  });

  cutover
    .command('ramp <name> <percent>')
    .description(
      "route percent (0-100) of keys' reads to the new store within shadow/live, by a stable hash of the key; 'default' restores the stage's own (shadow 0, live 100)",
    )
    .option('--redis <url>', REDIS_HELP)
    .option('--no-redis', 'do not ring over Redis even when REDIS_URL is set')
    .option('--by <who>', 'who or what changed it, for the history')
    .option('--url <url>', URL_HELP)
    .option('--json', 'print a JSON report')
    .action(async (name: string, value: string, options: MoveCliOptions) => {
      let ramp: number | null;
      try {
        ramp = percent(value);
      } catch (err) {
        throw new FerryError(E_CONFIG, `ferry cutover ramp: the percent ${(err as Error).message.toLowerCase()}`);
      }
      await withDatabase(globals, options, async (handle, { setRamp, status }) => {
        await setRamp(handle, name, ramp, { redis: redisOf(options), by: options.by });
        const s = (await status(handle, name))[0]!;
        if (options.json) printJson({ ok: true, name, stage: s.stage, ramp: s.ramp, epoch: s.epoch });
        else {
          process.stdout.write(
            `${name}: ${ramp === null ? "reads as the stage's default" : `${ramp}% of keys read from the new store`} (stage ${s.stage}${s.stage === 'shadow' || s.stage === 'live' ? '' : '; the ramp applies in shadow and live only'})\n`,
          );
        }
      });
    });

  cutover
    .command('verify <name>')
    .description(
      'compare the old and new store (checksums per chunk, row by row inside a differing chunk), list the differing keys, record the result for the gate; exit 1 on any difference',
    )
    .requiredOption('--file <module>', 'module whose default export gives the two stores (see below)')
    .option('--chunks <n>', 'chunks of the key space (default 64)', wholeNumber(1, 1_000_000))
    .option('--limit <n>', 'differing keys listed (default 100; all are counted)', wholeNumber(0))
    .option('--url <url>', URL_HELP)
    .option('--json', 'print a JSON report')
    .addHelpText('after', VERIFY_FILE_HELP)
    .action(async (name: string, options: CommonOptions & { file: string; chunks?: number; limit?: number }) => {
      await withDatabase(globals, options, async (handle, { verifyCutover }) => {
        const spec = await loadStores(options.file, name, options.url ?? process.env.DATABASE_URL);
        let report: VerifyReport;
        try {
          report = await verifyCutover({
            name,
            db: handle,
            old: spec.old,
            new: spec.new,
            compare: spec.compare,
            canonical: spec.canonical,
            chunks: options.chunks,
            limit: options.limit,
          });
        } finally {
          await spec.close?.();
        }
        if (options.json) printJson({ ok: report.clean, ...report });
        else printVerify(report);
        process.exitCode = report.clean ? EXIT_OK : EXIT_PROBLEM;
      });
    });

  cutover
    .command('mismatches <name>')
    .description('the newest stored shadow-read mismatches: key, fields, both values, when')
    .option('--limit <n>', 'how many (default 20)', wholeNumber(1))
    .option('--url <url>', URL_HELP)
    .option('--json', 'print a JSON report')
    .action(async (name: string, options: CommonOptions & { limit?: number }) => {
      await withDatabase(globals, options, async (handle, { mismatches, status }) => {
        const rows = await mismatches(handle, name, { limit: options.limit });
        const s = (await status(handle, name))[0]!;
        if (options.json) {
          printJson({ ok: true, name, total: s.mismatches.total, comparisons: s.comparisons, mismatches: rows });
          return;
        }
        process.stdout.write(
          `${name}: ${s.mismatches.total} mismatch(es) in ${s.comparisons} comparisons (${s.mismatches.stored} stored); newest ${rows.length}:\n`,
        );
        for (const m of rows) {
          process.stdout.write(
            `\n${new Date(m.at).toISOString()}  key ${JSON.stringify(m.key)}  fields: ${m.fields.join(', ') || '(whole value)'}\n` +
              `  old: ${JSON.stringify(m.old)}\n  new: ${JSON.stringify(m.new)}\n`,
          );
        }
      });
    });
}

type CutoverModule = typeof import('../../cutover/index.js');

/** The options advance and rollback share. */
function addMoveOptions(command: Command): Command {
  return command
    .option(
      '--wait <duration>',
      'how long instances get to follow a change of the stores written (default 30s)',
      durationMs,
    )
    .option('--redis <url>', REDIS_HELP)
    .option('--no-redis', 'do not ring over Redis even when REDIS_URL is set')
    .option('--by <who>', 'who or what moved it, for the history')
    .option('--url <url>', URL_HELP)
    .option('--json', 'print a JSON report');
}

/**
 * Open the project's database, run `fn`, close. A refused gate or instances
 * that did not follow are findings (exit 1, with the gate's figures); other
 * failures propagate to main() (exit 2), after a JSON answer when --json.
 */
async function withDatabase(
  globals: () => GlobalOptions,
  options: CommonOptions,
  fn: (handle: DbHandle, cutover: CutoverModule) => Promise<void>,
): Promise<void> {
  const config = await loadConfig({ configPath: globals().config });
  const secrets = knownSecrets([options.url]);
  const handle = await openProjectDatabase(config, { url: options.url });
  try {
    // Loaded here, not with the CLI: the cutover pulls in ioredis (see health.ts for why that matters).
    const cutover = await import('../../cutover/index.js');
    await fn(handle, cutover);
  } catch (err) {
    const code = err instanceof FerryError ? err.code : '';
    if (!PROBLEMS.has(code)) throw err;
    const refusals = ((err as FerryError).details as { refusals?: string[] } | undefined)?.refusals ?? [];
    if (options.json) printJson({ ok: false, error: errorPayload(err, secrets), refusals });
    else {
      printError(err, secrets);
      for (const r of refusals) process.stderr.write(`  gate: ${r}\n`);
    }
    process.exitCode = EXIT_PROBLEM;
  } finally {
    await handle.close();
  }
}

function redisOf(options: MoveCliOptions): string | undefined {
  return options.redis === false ? undefined : (options.redis ?? process.env.REDIS_URL);
}

function moveOptions(options: MoveCliOptions) {
  return { to: options.to, wait: options.wait, redis: redisOf(options), by: options.by ?? 'ferry cutover (CLI)' };
}

function printMove(result: MoveResult, verb: string, json: boolean | undefined): void {
  if (json) {
    printJson({ ok: true, ...result });
    return;
  }
  process.stdout.write(`${result.name}: ${verb} ${result.from} → ${result.to} (epoch ${result.epoch})\n`);
  for (const f of result.forced) process.stdout.write(`  forced past: ${f}\n`);
}

function printStatus(s: CutoverStatus, gap: boolean): void {
  const live = s.instances.filter((i) => i.live);
  const behind = live.filter((i) => i.epoch < s.epoch).length;
  const last = s.history.at(-1);
  const v = s.verify;
  if (gap) process.stdout.write('\n');
  printTable([
    ['cutover', s.name],
    ['stage', `${s.stage} (epoch ${s.epoch})`],
    [
      'ramp',
      s.ramp === null
        ? "stage's default"
        : `${s.ramp}% of keys read from the new store${s.stage === 'shadow' || s.stage === 'live' ? '' : ' (in shadow and live only)'}`,
    ],
    [
      'instances',
      `${live.length} live${behind ? `, ${behind} not yet following` : ''}${s.instances.length > live.length ? `, ${s.instances.length - live.length} gone` : ''}`,
    ],
    ['journal', `${s.journal.pending} pending, ${s.journal.inflight} in flight`],
    ['compared', `${s.comparisons} shadow reads, ${s.mismatches.total} mismatched (${s.mismatches.stored} stored)`],
    ['verify', v ? `${v.clean ? 'clean' : `${v.differences ?? '?'} difference(s)`} at ${v.at ?? '?'}` : 'never run'],
    [
      'last change',
      last
        ? `${last.action} ${last.from} → ${last.to} at ${last.at}${last.by ? ` by ${last.by}` : ''}${last.forced?.length ? ` (forced: ${last.forced.join('; ')})` : ''}`
        : 'none',
    ],
  ]);
}

function printVerify(r: VerifyReport): void {
  const out = process.stdout;
  out.write(
    `${r.clean ? 'CLEAN' : 'DIFFERENT'}: ${r.name}: old ${r.rows.old} rows, new ${r.rows.new} rows; ` +
      `${r.differingChunks} of ${r.chunks} chunks compared row by row in ${r.durationMs} ms\n`,
  );
  if (!r.clean) {
    const d = r.differences;
    out.write(
      `${d.total} difference(s): ${d.missingInNew} missing in new, ${d.missingInOld} missing in old, ${d.different} different\n`,
    );
    for (const k of r.keys) {
      out.write(`  ${k.kind.padEnd(14)} ${JSON.stringify(k.key)}${k.fields ? `  (${k.fields.join(', ')})` : ''}\n`);
    }
    if (r.keys.length < d.total) out.write(`  ... ${d.total - r.keys.length} more (--limit, --json)\n`);
  }
  if (r.settled > 0) out.write(`${r.settled} difference(s) settled when re-read (writes in flight)\n`);
  if (r.journal && r.journal.pending + r.journal.inflight > 0) {
    out.write(
      `the journal holds ${r.journal.pending} pending and ${r.journal.inflight} in-flight write(s): differences on those keys settle once replayed; verify again\n`,
    );
  }
}

interface StoresSpec {
  name?: string;
  old: CutoverStore<unknown>;
  new: CutoverStore<unknown>;
  compare?: ValueComparatorOptions | ((a: unknown, b: unknown) => string[]);
  canonical?: (value: unknown) => string;
  close?: () => unknown;
}

/** The --file module's default export: the stores object, or a function returning it. */
async function loadStores(file: string, name: string, url: string | undefined): Promise<StoresSpec> {
  const path = resolve(file);
  let module: Record<string, unknown>;
  try {
    module = await importModule(path, 'cutover verify file');
  } catch (err) {
    // tsx compiles a .ts file of a package without "type": "module" to CommonJS, and ioredis (which
    // Ferry's stores load) then cannot be loaded beside this process's own copy.
    if (/Cannot redefine property/.test((err as Error).message)) {
      throw new FerryError(
        E_CONFIG,
        `${file} was loaded as CommonJS: make it an ES module (name it .mts, or add "type": "module" to its package.json). ${(err as Error).message}`,
        { cause: err },
      );
    }
    throw err;
  }
  let exported = module.default;
  // A file Node loaded as CommonJS hands back module.exports.
  if (isObject(exported) && !('old' in exported) && 'default' in exported) exported = exported.default;
  const spec = (typeof exported === 'function' ? await exported({ url }) : exported) as StoresSpec | undefined;
  if (!spec || !isStore(spec.old) || !isStore(spec.new)) {
    throw new FerryError(
      E_CONFIG,
      `${file} must default-export { old, new, compare? } (two stores of ferry/cutover), or a function returning it; see ferry cutover verify --help.`,
    );
  }
  if (spec.name !== undefined && spec.name !== name) {
    await spec.close?.();
    throw new FerryError(
      E_CONFIG,
      `${file} describes cutover "${spec.name}", not "${name}": check the name or the file.`,
    );
  }
  return spec;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function isStore(s: unknown): boolean {
  return isObject(s) && typeof s.get === 'function';
}
