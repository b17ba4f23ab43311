import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./store-child.ts', import.meta.url));

/** A session store in a child OS process (see store-child.ts). */
export class ChildStore {
  readonly #proc: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  readonly #exited: Promise<void>;
  readonly ready: Promise<void>;
  #next = 0;

  constructor(pgUrl: string, redisUrl: string, prefix: string, outboxPollMs: number) {
    this.#proc = spawn(process.execPath, ['--import', 'tsx', CHILD, pgUrl, redisUrl, prefix, String(outboxPollMs)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#exited = new Promise((resolve) => this.#proc.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      this.#waiting.set(0, { resolve, reject });
      void this.#exited.then(() => reject(new Error('the child store exited before it was ready')));
    });
    createInterface({ input: this.#proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { id: number; result?: unknown; error?: string };
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.result);
    });
  }

  get pid(): number {
    return this.#proc.pid ?? -1;
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#proc.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** SIGKILL: no cleanup, no close(), whatever it held in memory is lost. */
  async kill(): Promise<void> {
    this.#proc.kill('SIGKILL');
    await this.#exited;
  }

  async exit(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    await this.call('exit').catch(() => {});
    await Promise.race([this.#exited, new Promise((r) => setTimeout(r, 3_000))]);
    this.#proc.kill('SIGKILL');
  }
}
