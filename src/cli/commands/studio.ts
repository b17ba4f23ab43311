import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { loadConfig, loadSchemaModule } from '../../config.js';
import type { DbHandle } from '../../db/open.js';
import { FerryError } from '../../errors.js';
import type { RedisConnection } from '../../redis/connection.js';
import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';
import { wholeNumber } from '../numbers.js';
import { printJson } from '../output.js';

interface StudioCliOptions {
  port: number;
  host: string;
  write?: boolean;
  open?: boolean;
  allowRemote?: boolean;
  url?: string;
  json?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * `ferry studio`: serve Ferry Studio for the project's database until
 * Ctrl-C. Studio's code (and ioredis) is imported only here, when the
 * command runs, so other commands do not pay for it.
 *
 * It binds 127.0.0.1 and refuses any other address unless --allow-remote:
 * Studio has no login of its own (reads need no token), so whoever can reach
 * the port can read every table; on a shared or exposed machine that must be
 * a deliberate choice, and the better one is mounting `studio()` behind the
 * app's own auth.
 */
export function registerStudio(program: Command, globals: () => GlobalOptions): void {
  program
    .command('studio')
    .description(
      'serve Ferry Studio, a local web dashboard of the database: tables, SQL, schema, migrations, imports, cache, cutover',
    )
    .option('--port <port>', 'port to listen on', wholeNumber(0, 65535), 4983)
    .option('--host <address>', 'address to bind (loopback only, unless --allow-remote)', '127.0.0.1')
    .option('--write', 'allow edits (each needs the token printed in the URL, or FERRY_STUDIO_TOKEN)')
    .option('--open', 'open the page in the default browser')
    .option('--allow-remote', 'allow a non-loopback --host (anyone who reaches it can read every table)')
    .option('--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)')
    .option('--json', 'print the URL and settings as JSON once listening')
    .addHelpText(
      'after',
      `
Safe by default: binds 127.0.0.1, read-only unless --write; edits need the
token (printed in the URL after #token=, never sent to the server by the
browser; set FERRY_STUDIO_TOKEN to keep it across restarts); requests from
other sites' pages and other Host names are refused; .sensitive() columns are
masked; the database password never reaches the browser.

Examples:
  ferry studio                     read-only, http://127.0.0.1:4983/
  ferry studio --write --open      editable; opens the browser with the token
  ferry studio --port 0 --json     any free port; prints {"url": ...}`,
    )
    .action(async (options: StudioCliOptions) => {
      const remote = !LOOPBACK.has(options.host.toLowerCase());
      if (remote && !options.allowRemote) {
        throw new FerryError(
          'E_STUDIO_CONFIG',
          `--host ${options.host} is not a loopback address: Studio has no login, so anyone who reaches it could read every table. ` +
            "Pass --allow-remote if that is what you want, or mount studio() behind your app's auth (see the README).",
        );
      }
      const config = await loadConfig({ configPath: globals().config });
      const schemaModule = existsSync(config.schemaPath) ? await loadSchemaModule(config) : undefined;
      const handle: DbHandle = await openProjectDatabase(config, { url: options.url });
      let redis: RedisConnection | null = null;
      try {
        const { studio } = await import('../../studio/server.js');
        const { listen } = await import('../../studio/listen.js');
        if (process.env.REDIS_URL?.trim()) {
          const { openRedis } = await import('../../redis/connection.js');
          redis = openRedis(undefined, { mode: 'fail-fast', what: 'ferry studio' });
        }
        const handler = studio(handle, {
          write: options.write === true,
          schema: schemaModule,
          migrationsDir: existsSync(config.migrationsDir) ? config.migrationsDir : undefined,
          redis: redis?.client,
          redisUrl: redis ? redis.shown : undefined,
          allowedHosts: remote ? ['localhost', '127.0.0.1', '[::1]', options.host, hostname()] : undefined,
        });
        const server = await listen(handler, options.port, options.host);
        const shownHost =
          options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
        const base = `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${server.port}/`;
        const url = options.write ? `${base}#token=${handler.token}` : base;
        if (options.json) {
          printJson({ ok: true, url, writable: handler.writable, database: handle.redactedUrl, port: server.port });
        } else {
          process.stdout.write(
            `Ferry Studio (${options.write ? 'write mode: edits need the token in this URL' : 'read-only'}) for ${handle.redactedUrl}\n  ${url}\nPress Ctrl-C to stop.\n`,
          );
        }
        if (options.open) openBrowser(url);
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await server.close();
      } finally {
        await redis?.close();
        await handle.close();
      }
    });
}

/** The platform's "open this URL" command, detached; failing to open a browser is not an error. */
function openBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(command, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => process.stderr.write(`ferry: could not open a browser; open ${url} yourself.\n`));
    child.unref();
  } catch {
    process.stderr.write(`ferry: could not open a browser; open ${url} yourself.\n`);
  }
}
