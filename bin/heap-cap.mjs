/**
 * `ferry import` and `ferry verify` run in a child Node process whose V8 old
 * generation is capped (default 128 MB; FERRY_MAX_HEAP_MB, 0 = no cap).
 *
 * Why: an import holds little at a time (two batches of at most 4 MB of CSV,
 * 16 bytes per natural key), but V8 sizes its heap by how fast the program
 * allocates, not by what it keeps, and collects lazily: uncapped, a 200k
 * message import of the council shape peaked at 266-279 MB of RSS, capped at
 * 128 MB 189 MB, with the same wall time (bench/import.bench.ts). The cap can
 * only be set when V8 starts, hence a child process; it costs one Node start
 * (~40 ms) and this parent's ~40 MB while the command runs.
 *
 * Plain JavaScript, loaded before tsx or the compiled CLI: the parent stays
 * small and starts fast. A cap the user set (`--max-old-space-size` in
 * NODE_OPTIONS or on node's command line) is respected as is.
 */
import { spawn } from 'node:child_process';

/**
 * The V8 flags `ferry import`/`verify` run under for a cap of `mb`: the cap,
 * and, against a database server, an initial old generation of
 * min(64, mb / 2) MB.
 *
 * Why the second: an import keeps ~25 MB live but promotes ~12 MB of
 * short-lived batch data every few hundred ms, and V8 sets the next
 * old-generation limit just above what the last full collection kept, so it
 * marked the whole heap ~200 times in a 1M-message import (chatcore: 202
 * mark-compacts, 20-28% of the main thread in the collector). Starting the
 * old generation at 64 MB cut that to 67 and the process's CPU by 20%
 * (15.4 vs 17.9-20.6 s user, three alternating runs each) for +15-20 MB of
 * peak RSS; 32 MB gained nothing, 96 MB no more than 64 (bench/import.bench.ts
 * runs its children with these same flags). Not on the embedded database:
 * there two isolates (the worker's and the main one) grow, and the import
 * went past its 512 MB budget (council 200k: 563 MB, against 501 without).
 */
export function v8Flags(mb, { server = false } = {}) {
  const flags = [`--max-old-space-size=${mb}`];
  if (server) flags.push(`--initial-old-space-size=${Math.min(64, Math.floor(mb / 2))}`);
  return flags;
}

/**
 * Whether the command will run against a database server: `--url` or
 * DATABASE_URL is a postgres:// URL. (A URL from the config file is not seen
 * here: such runs go without the initial old generation, as on the embedded
 * database, which is the safe side.)
 */
export function targetsServer(args, env = process.env) {
  const i = args.findIndex((a) => a === '--url' || a.startsWith('--url='));
  const url = i < 0 ? env.DATABASE_URL : args[i].startsWith('--url=') ? args[i].slice(6) : args[i + 1];
  return /^postgres(ql)?:\/\//i.test((url ?? '').trim());
}

/** Commands that stream a whole source through this process. */
const CAPPED_COMMANDS = new Set(['import', 'verify']);
const DEFAULT_HEAP_MB = 128;

/** The CLI's command name: the first argument that is not a global option (`-c/--config <path>`). */
export function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-c' || a === '--config') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * The heap cap in MB to relaunch with, or null to run in this process: not a
 * capped command, already capped (by the user or by an earlier relaunch), or
 * FERRY_MAX_HEAP_MB=0.
 */
export function heapCapFor(args, env = process.env, execArgv = process.execArgv) {
  if (!CAPPED_COMMANDS.has(commandOf(args))) return null;
  if (env.FERRY_HEAP_CAPPED === '1') return null;
  if ([...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-old-space-size'))) {
    return null;
  }
  const raw = env.FERRY_MAX_HEAP_MB;
  if (raw === undefined || raw === '') return DEFAULT_HEAP_MB;
  const mb = Number(raw);
  if (!Number.isInteger(mb) || mb < 0) {
    process.stderr.write(
      `ferry: FERRY_MAX_HEAP_MB must be a whole number of megabytes (0 = no cap), got ${JSON.stringify(raw)} [E_CONFIG]\n`,
    );
    process.exit(2);
  }
  return mb === 0 ? null : mb;
}

/**
 * Run this same command again in a child with the cap; exit as it exits.
 * SIGINT/SIGTERM/SIGHUP sent to this process are passed on (from a terminal
 * both get SIGINT: an import stops at once either way, and resumes from its
 * last committed batch).
 */
export function relaunch(bin, args, mb) {
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...v8Flags(mb, { server: targetsServer(args) }), bin, ...args],
    {
      // The IPC channel only tells the child when this process is gone (see endWithParent).
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, FERRY_HEAP_CAPPED: '1' },
    },
  );
  const forward = (signal) => () => child.kill(signal);
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((s) => [s, forward(s)]);
  for (const [s, h] of handlers) process.on(s, h);
  child.on('error', (err) => {
    process.stderr.write(`ferry: cannot start ${process.execPath}: ${err.message} [E_CONFIG]\n`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    for (const [s, h] of handlers) process.off(s, h);
    if (signal === 'SIGABRT' || code === 134) {
      // V8 aborts when the capped heap is exhausted (it printed "JavaScript heap out of memory" above).
      const command = commandOf(args);
      const message =
        `this ${command} ran out of its ${mb} MB JavaScript heap (V8's old generation, capped to bound ` +
        `memory). ${command === 'import' ? 'What committed is kept; the next run resumes.' : 'Nothing was changed.'} ` +
        `Run it again with more: FERRY_MAX_HEAP_MB=${mb * 4} ` +
        '(or FERRY_MAX_HEAP_MB=0 for no cap); a map() that keeps data across records needs room for it.';
      process.stderr.write(`ferry: ${message} [E_OUT_OF_MEMORY]\n`);
      if (args.includes('--json')) {
        process.stdout.write(`${JSON.stringify({ ok: false, error: { code: 'E_OUT_OF_MEMORY', message } })}\n`);
      }
      process.exit(2);
    }
    if (signal) {
      // Die of the same signal, so a shell or supervisor sees what happened.
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 2);
  });
}

/**
 * In the relaunched child: end when the parent ends, however it ended. A
 * signal the parent can catch it passes on, but SIGKILL (a supervisor's last
 * word, the OOM killer) it cannot, and the import would run on unseen, holding
 * the import lock. The kernel closes the IPC channel when the parent dies;
 * the child then dies as hard as the parent did (an import resumes from its
 * last committed batch). The channel is unref'd: it never keeps the child up.
 */
export function endWithParent() {
  if (process.env.FERRY_HEAP_CAPPED !== '1' || !process.channel) return;
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  process.channel.unref();
}
