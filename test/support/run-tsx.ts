/**
 * Run a TypeScript script as people run it (`npx tsx file`): its own Node
 * process with tsx, output collected, never thrown on a non-zero exit.
 * `unset` removes variables of this process's environment first (a demo must
 * run as on a fresh machine: no DATABASE_URL, no REDIS_URL).
 */
import { spawn } from 'node:child_process';

export interface ScriptRun {
  code: number | null;
  out: string;
  err: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  unset?: string[];
  cwd?: string;
}

export function runTsx(file: string, args: string[] = [], options: RunOptions = {}): Promise<ScriptRun> {
  return runNode(['--import', 'tsx', file, ...args], options);
}

const FERRY_BIN = new URL('../../bin/ferry.mjs', import.meta.url).pathname;

/** `ferry <args>` as a user runs it (bin/ferry.mjs loads tsx itself, so `cwd` may be any folder). */
export function runFerry(args: string[], options: RunOptions = {}): Promise<ScriptRun> {
  return runNode([FERRY_BIN, ...args], options);
}

function runNode(argv: string[], options: RunOptions): Promise<ScriptRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of options.unset ?? []) delete env[name];
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
