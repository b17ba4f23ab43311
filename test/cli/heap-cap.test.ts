/**
 * `ferry import` and `ferry verify` run with a capped V8 heap (bin/heap-cap.mjs):
 * the import file is loaded in the capped child, a cap the user set is kept,
 * running out of the cap is a clear E_OUT_OF_MEMORY (text and --json), and a
 * signal to the wrapper reaches the child.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { commandOf, heapCapFor, targetsServer, v8Flags } from '../../bin/heap-cap.mjs';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'ferry-heap-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// An "import file" that reports the heap limit it was loaded under, then (when
// asked) allocates without end or waits forever. It is never a valid import:
// the command fails after loading it, which is all these tests need.
writeFileSync(
  join(scratch, 'probe.mts'),
  `import { writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
writeFileSync(process.env.PROBE_OUT!, JSON.stringify({ pid: process.pid, limitMb: getHeapStatistics().heap_size_limit / 2 ** 20, execArgv: process.execArgv }));
if (process.env.PROBE_EAT) { const a: unknown[] = []; for (;;) a.push(new Array(1e5).fill(a.length)); }
if (process.env.PROBE_WAIT) { setInterval(() => {}, 1000); await new Promise(() => {}); }
export default 42;
`,
);

function ferry(args: string[], env: Record<string, string | undefined> = {}) {
  const out = join(scratch, `probe-${Math.random().toString(36).slice(2)}.json`);
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: scratch,
    env: { ...process.env, NODE_OPTIONS: undefined, FERRY_MAX_HEAP_MB: undefined, PROBE_OUT: out, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const probe = existsSync(out)
    ? (JSON.parse(readFileSync(out, 'utf8')) as { pid: number; limitMb: number; execArgv: string[] })
    : null;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, probe };
}

describe('heap cap for import and verify', () => {
  it('finds the command after global options', () => {
    expect(commandOf(['import', 'x.ts'])).toBe('import');
    expect(commandOf(['-c', 'import', 'verify', 'x.ts'])).toBe('verify');
    expect(commandOf(['--config', 'a.ts', 'migrate', 'up'])).toBe('migrate');
    expect(commandOf(['--help'])).toBeUndefined();
  });

  it('caps import and verify only, keeps a cap the user set, and 0 turns it off', () => {
    expect(heapCapFor(['import', 'x.ts'], {}, [])).toBe(128);
    expect(heapCapFor(['verify', 'x.ts'], { FERRY_MAX_HEAP_MB: '300' }, [])).toBe(300);
    expect(heapCapFor(['migrate', 'up'], {}, [])).toBeNull();
    expect(heapCapFor(['import', 'x.ts'], { FERRY_MAX_HEAP_MB: '0' }, [])).toBeNull();
    expect(heapCapFor(['import', 'x.ts'], { NODE_OPTIONS: '--max-old-space-size=700' }, [])).toBeNull();
    expect(heapCapFor(['import', 'x.ts'], {}, ['--max-old-space-size=700'])).toBeNull();
    expect(heapCapFor(['import', 'x.ts'], { FERRY_HEAP_CAPPED: '1' }, [])).toBeNull();
  });

  it('loads the import file in a child whose heap is capped (128 MB by default, FERRY_MAX_HEAP_MB, or the user’s own)', () => {
    const capped = ferry(['import', 'probe.mts']);
    // The file loaded, then the command failed on it as before: exit 2, the usual message.
    expect(capped.code).toBe(2);
    expect(capped.stderr).toMatch(/must default-export defineImport/);
    // heap_size_limit = old generation cap + young generation: 128 MB + a few dozen, far below V8's default.
    expect(capped.probe?.limitMb).toBeGreaterThanOrEqual(128);
    expect(capped.probe?.limitMb).toBeLessThan(256);
    // …on the embedded database (no DATABASE_URL) without an initial old generation (v8Flags says why)…
    expect(capped.probe?.execArgv.some((a) => a.startsWith('--initial-old-space-size'))).toBe(false);
    // …and against a server with one of 64 MB.
    const server = ferry(['import', 'probe.mts'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' });
    expect(server.probe?.execArgv).toContain('--initial-old-space-size=64');

    expect(ferry(['verify', 'probe.mts'], { FERRY_MAX_HEAP_MB: '400' }).probe?.limitMb).toBeGreaterThanOrEqual(400);
    expect(ferry(['verify', 'probe.mts'], { FERRY_MAX_HEAP_MB: '400' }).probe?.limitMb).toBeLessThan(512);
    const own = ferry(['import', 'probe.mts'], { NODE_OPTIONS: '--max-old-space-size=1000' });
    expect(own.probe?.limitMb).toBeGreaterThanOrEqual(1000);
    expect(own.probe?.limitMb).toBeLessThan(1200);
  });

  it('against a server, starts the old generation at min(64, cap / 2) MB; on the embedded database not', () => {
    expect(v8Flags(128, { server: true })).toEqual(['--max-old-space-size=128', '--initial-old-space-size=64']);
    expect(v8Flags(512, { server: true })).toEqual(['--max-old-space-size=512', '--initial-old-space-size=64']);
    expect(v8Flags(40, { server: true })).toEqual(['--max-old-space-size=40', '--initial-old-space-size=20']);
    expect(v8Flags(128)).toEqual(['--max-old-space-size=128']);
    expect(targetsServer(['import', 'x.ts'], { DATABASE_URL: 'postgres://u@h/db' })).toBe(true);
    expect(targetsServer(['import', 'x.ts'], { DATABASE_URL: 'pglite:./data' })).toBe(false);
    expect(targetsServer(['import', 'x.ts'], {})).toBe(false);
    expect(targetsServer(['import', 'x.ts', '--url', 'postgresql://h/db'], {})).toBe(true);
    expect(targetsServer(['verify', 'x.ts', '--url=memory://'], { DATABASE_URL: 'postgres://h/db' })).toBe(false);
  });

  it('a bad FERRY_MAX_HEAP_MB is E_CONFIG naming it', () => {
    const r = ferry(['import', 'probe.mts'], { FERRY_MAX_HEAP_MB: 'lots' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('FERRY_MAX_HEAP_MB must be a whole number of megabytes (0 = no cap), got "lots"');
    expect(r.probe).toBeNull();
  });

  it('running out of the capped heap is E_OUT_OF_MEMORY saying how to give it more, in text and in --json', () => {
    const r = ferry(['import', 'probe.mts', '--json'], { FERRY_MAX_HEAP_MB: '24', PROBE_EAT: '1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('this import ran out of its 24 MB JavaScript heap');
    expect(r.stderr).toContain('FERRY_MAX_HEAP_MB=96');
    const json = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(json).toMatchObject({ ok: false, error: { code: 'E_OUT_OF_MEMORY' } });
    expect(json.error.message).toContain('What committed is kept; the next run resumes.');
  });

  /** `ferry import` of a probe that waits forever; resolves once the probe is loaded in the capped child. */
  async function waitingImport(name: string) {
    const out = join(scratch, `${name}.json`);
    const wrapper = spawn(process.execPath, [bin, 'import', 'probe.mts'], {
      cwd: scratch,
      env: { ...process.env, NODE_OPTIONS: undefined, PROBE_OUT: out, PROBE_WAIT: '1' },
      stdio: 'ignore',
    });
    // The probe writes its pid once loaded in the child (polling: how long tsx takes to load is the machine's business).
    while (!existsSync(out)) await sleep(50);
    const { pid } = JSON.parse(readFileSync(out, 'utf8')) as { pid: number };
    expect(pid).not.toBe(wrapper.pid);
    return { wrapper, pid };
  }

  it('SIGTERM to ferry reaches the capped child, and ferry dies of it too', async () => {
    const { wrapper, pid } = await waitingImport('wait');
    const exited = once(wrapper, 'exit');
    wrapper.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // The wrapper exits only after its child did.
    expect(alive()).toBe(false);
  });

  it('SIGKILL to ferry (which it cannot pass on) still ends the capped child', async () => {
    const { wrapper, pid } = await waitingImport('wait-kill');
    wrapper.kill('SIGKILL');
    // The child notices the closed channel and ends; wait for it (no deadline: the test's timeout is the bound).
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await sleep(50);
    }
  });
});
