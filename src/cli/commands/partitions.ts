import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { E_BAD_ARGUMENT, FerryError } from '../../errors.js';
import { createPartitionsAhead, type PartitionPeriod, PERIODS } from '../../migrate/partitions-ahead.js';
import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';
import { printJson } from '../output.js';

interface PartitionsCreateOptions {
  ahead: string;
  every: string;
  from?: string;
  lockTimeout: string;
  dryRun?: boolean;
  json?: boolean;
  url?: string;
}

const WHY_NOT_A_MIGRATION = `
This is an operational command, not a migration: which partitions must exist
depends on the date, so run it on a schedule (cron, a deploy hook) rather than
writing a migration every month. The schema module declares the partitioned
table (and fixed partitions such as a default one); the partitions made here
are marked with a comment and left out of introspection, so \`migrate new\`
never proposes to drop them and \`pull\` does not copy them into the DSL.

Idempotent: it fills the gap from the last partition's upper bound (or the
current period) to the end of the --ahead'th period after the current one, so
running it twice creates nothing the second time. Each partition is created
LIKE the table and attached (ATTACH PARTITION: reads and writes continue),
one transaction each. Periods are in UTC; weeks start on Monday.

Example:
  ferry partitions create events --ahead 3 --every month
  # events_2026_12, events_2027_01, ... FOR VALUES FROM ('2026-12-01 00:00:00+00') TO (...)`;

/** `ferry partitions create`: see WHY_NOT_A_MIGRATION and migrate/partitions-ahead.ts. */
export function registerPartitions(program: Command, globals: () => GlobalOptions): void {
  const partitions = program.command('partitions').description('operate on partitioned tables');
  partitions
    .command('create')
    .description(
      'create the partitions a table range-partitioned on one date/timestamp column needs for the current period and the next N',
    )
    .argument('<table>', 'the partitioned table')
    .option('--ahead <n>', 'periods after the current one to have partitions for', '3')
    .option('--every <period>', `partition length: ${PERIODS.join(', ')}`, 'month')
    .option('--from <date>', 'the moment whose period counts as current (ISO date or timestamp; default now)')
    .option('--lock-timeout <duration>', "lock_timeout of each partition's transaction (Postgres syntax)", '5s')
    .option('--dry-run', 'print what would be created, create nothing')
    .option('--json', 'print the report as JSON')
    .option('--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)')
    .addHelpText('after', WHY_NOT_A_MIGRATION)
    .action(async (table: string, options: PartitionsCreateOptions) => {
      const ahead = Number(options.ahead);
      if (!/^\d+$/.test(options.ahead)) {
        throw new FerryError(E_BAD_ARGUMENT, `--ahead must be a whole number, got '${options.ahead}'.`);
      }
      if (!PERIODS.includes(options.every as PartitionPeriod)) {
        throw new FerryError(E_BAD_ARGUMENT, `--every must be one of ${PERIODS.join(', ')}, got '${options.every}'.`);
      }
      const from = options.from === undefined ? undefined : new Date(options.from);
      if (from !== undefined && Number.isNaN(from.getTime())) {
        throw new FerryError(E_BAD_ARGUMENT, `--from must be an ISO date or timestamp, got '${options.from}'.`);
      }
      const config = await loadConfig({ configPath: globals().config });
      const handle = await openProjectDatabase(config, { url: options.url });
      try {
        const result = await createPartitionsAhead(handle.db, {
          table,
          ahead,
          every: options.every as PartitionPeriod,
          dryRun: options.dryRun,
          lockTimeout: options.lockTimeout,
          ...(from ? { from } : {}),
        });
        if (options.json) {
          printJson({ ok: true, ...result });
          return;
        }
        const verb = result.dryRun ? 'would create' : 'created';
        for (const p of result.created) {
          process.stdout.write(`${verb} ${p.name} FOR VALUES FROM (${p.from}) TO (${p.to})\n`);
          if (result.dryRun) for (const s of p.sql) process.stdout.write(`  ${s};\n`);
        }
        process.stdout.write(
          result.created.length === 0
            ? `${table}: partitions already reach ${result.until}; nothing to create\n`
            : `${table}: ${result.created.length} partition(s) ${verb}, now reaching ${result.until}\n`,
        );
      } finally {
        await handle.close();
      }
    });
}
