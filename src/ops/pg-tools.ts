/**
 * PostgreSQL's own client programs (`pg_dump`, `pg_restore`), found on the
 * PATH and run with the password in the environment (never on the command
 * line, where `ps` shows it). Their failures become E_BACKUP_TOOL with what
 * to do: install the client of the server's major version, or fix the PATH.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { redactText, urlSecrets } from '../db/redact.js';
import { FerryError } from '../errors.js';
import { E_BACKUP_TOOL } from './errors.js';

export type PgTool = 'pg_dump' | 'pg_restore';

export interface PgToolOptions {
  /** Environment whose PATH is searched and which the program gets (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Look only in this folder (e.g. /usr/lib/postgresql/15/bin) instead of the PATH. */
  binDir?: string;
}

export interface FoundTool {
  path: string;
  /** e.g. 15 for `pg_dump (PostgreSQL) 15.14 (Debian ...)`. */
  major: number;
  version: string;
}

/** Where `tool` is, and its version; E_BACKUP_TOOL saying how to install it when it is not found. */
export async function findPgTool(tool: PgTool, serverMajor: number, options: PgToolOptions = {}): Promise<FoundTool> {
  const env = options.env ?? process.env;
  const dirs = options.binDir ? [options.binDir] : (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const found = dirs.map((d) => path.join(d, tool)).find(isExecutable);
  if (!found) {
    throw new FerryError(
      E_BACKUP_TOOL,
      `${tool} was not found ${options.binDir ? `in ${options.binDir}` : 'on the PATH'}. ` +
        `Install PostgreSQL's client programs of the server's version (Debian/Ubuntu: apt-get install postgresql-client-${serverMajor}), ` +
        'or pass the folder that holds them (--bin-dir).',
      { details: { tool } },
    );
  }
  const { stdout } = await runTool(found, ['--version'], { env });
  const match = /(\d+)(?:\.(\d+))?/.exec(stdout);
  if (!match) {
    throw new FerryError(E_BACKUP_TOOL, `${found} --version printed "${stdout.trim()}", not a PostgreSQL version.`, {
      details: { tool },
    });
  }
  return { path: found, major: Number(match[1]), version: stdout.trim() };
}

/**
 * pg_dump refuses a server of a later major version than its own (it could
 * not read that server's catalogs); say so before it starts, naming both.
 */
export function checkToolVersion(tool: FoundTool, serverVersion: string, serverMajor: number): void {
  if (tool.major >= serverMajor) return;
  throw new FerryError(
    E_BACKUP_TOOL,
    `${tool.path} is version ${tool.major} ("${tool.version}") but the server is PostgreSQL ${serverVersion}: ` +
      `pg_dump cannot dump a newer server. Install postgresql-client-${serverMajor} (apt-get install postgresql-client-${serverMajor}) ` +
      `and put its bin folder first on the PATH (or pass --bin-dir /usr/lib/postgresql/${serverMajor}/bin).`,
    { details: { tool: tool.path, toolMajor: tool.major, serverVersion } },
  );
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The URL without its password (for the command line) and an environment
 * holding it as PGPASSWORD.
 */
export function libpqTarget(connectionString: string, env: NodeJS.ProcessEnv): { url: string; env: NodeJS.ProcessEnv } {
  const url = new URL(connectionString);
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.password = '';
  return { url: url.toString(), env: password === undefined ? { ...env } : { ...env, PGPASSWORD: password } };
}

/** Run a program to completion; E_BACKUP_TOOL with its (redacted) stderr when it exits non-zero. */
export function runTool(
  file: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; secretsOf?: string },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (err) =>
      reject(
        new FerryError(E_BACKUP_TOOL, `Cannot run ${file}: ${err.message}`, { cause: err, details: { tool: file } }),
      ),
    );
    child.on('close', (code, signal) => {
      if (code === 0) return resolve({ stdout, stderr });
      const secrets = options.secretsOf ? urlSecrets(options.secretsOf) : [];
      reject(
        new FerryError(
          E_BACKUP_TOOL,
          `${path.basename(file)} failed (${signal ? `signal ${signal}` : `exit code ${code}`}): ${redactText(stderr.trim(), secrets) || '(no output)'}`,
          { details: { tool: file, exitCode: code } },
        ),
      );
    });
  });
}
