import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import type { DbHandle } from '../../db/open.js';
import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';
import { EXIT_OK, EXIT_PROBLEM, errorPayload, knownSecrets, printError, printJson, printTable } from '../output.js';

export function registerDb(program: Command, globals: () => GlobalOptions): void {
  const db = program.command('db').description('inspect the database connection');
  db.command('status')
    .description('backend, redacted URL, server version, round-trip latency and pool figures; exit 1 when unreachable')
    .option('--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)')
    .option('--json', 'print a JSON report')
    .action(async (options: { url?: string; json?: boolean }) => {
      const config = await loadConfig({ configPath: globals().config });
      const secrets = knownSecrets([options.url]);
      let handle: DbHandle | undefined;
      try {
        handle = await openProjectDatabase(config, { url: options.url });
        const latencyMs = await handle.ping();
        const report = {
          ok: true,
          backend: handle.backend,
          url: handle.redactedUrl,
          serverVersion: await handle.serverVersion(),
          latencyMs: Math.round(latencyMs * 1000) / 1000,
          pool: handle.poolStats(),
        };
        if (options.json) printJson(report);
        else {
          const p = report.pool;
          printTable([
            ['backend', report.backend],
            ['url', report.url],
            ['server', report.serverVersion],
            ['latency', `${report.latencyMs.toFixed(2)} ms`],
            ['pool', `total ${p.total} · idle ${p.idle} · waiting ${p.waiting} · max ${p.max}`],
          ]);
        }
        process.exitCode = EXIT_OK;
      } catch (err) {
        if (options.json) printJson({ ok: false, error: errorPayload(err, secrets) });
        else printError(err, secrets);
        process.exitCode = EXIT_PROBLEM;
      } finally {
        await handle?.close();
      }
    });
}
