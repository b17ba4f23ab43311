import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** A cache in a child process (see child.ts). */
export class ChildCache {
  readonly #proc: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  #next = 0;

  constructor(url: string, namespace: string) {
    this.#proc = spawn(process.execPath, ['--import', 'tsx', CHILD, url, namespace], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    createInterface({ input: this.#proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { id: number; result?: unknown; error?: string };
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.result);
    });
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#proc.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  async exit(): Promise<void> {
    const exited = new Promise((r) => this.#proc.once('exit', r));
    await this.call('exit').catch(() => {});
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
    this.#proc.kill();
  }
}
