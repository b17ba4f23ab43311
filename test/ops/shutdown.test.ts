/**
 * shutdownOnSignals in a real process: on SIGTERM readiness turns 503 during
 * `delay`, the request being served is answered, timers and pools close, and
 * the process exits 0 by itself.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { adminUrl } from '../support/backends-config.js';

const app = new URL('./fixtures/signal-app.ts', import.meta.url).pathname;

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('shutdownOnSignals', () => {
  it('SIGTERM: 503 while draining, the in-flight request answered, everything closed, exit 0', {
    timeout: 60_000,
  }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', app], {
      env: { ...process.env, APP_DATABASE_URL: adminUrl() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (c) => {
      err += c;
    });
    const waitFor = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m) resolve(m);
        };
        child.stdout.on('data', (c) => {
          out += c;
          check();
        });
        child.once('exit', () => reject(new Error(`exited before ${pattern}: ${out}${err}`)));
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const port = Number((await waitFor(/port (\d+)/))[1]);
    expect((await get(port, '/readyz')).status).toBe(200);

    const slow = get(port, '/slow');
    await waitFor(/serving \/slow/);
    child.kill('SIGTERM');
    // Within the 200 ms delay the server still answers, and says it is not ready.
    const during = await get(port, '/readyz?verbose');
    expect(during.status).toBe(503);
    expect(during.body).toContain('[-]shutdown failed: draining');
    expect(await slow).toEqual({ status: 200, body: '42' });
    expect(await exited).toBe(0);
    const report = JSON.parse((/shutdown (.*)/.exec(out) as RegExpExecArray)[1] as string);
    expect(report).toMatchObject({ signal: 'SIGTERM', drained: true, errors: [], closedTimer: true });
  });
});
