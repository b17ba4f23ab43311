/**
 * Tiny benchmark kit: interleaved rounds (A, B, A, B, ...) so that machine
 * noise hits every contender alike, throughput from a fixed number of
 * concurrent workers, and latency percentiles from one sequential worker.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Contender {
  name: string;
  op: () => Promise<unknown>;
}

export interface Throughput {
  name: string;
  opsPerSec: number;
  p50us: number;
  p99us: number;
}

async function runFor(op: () => Promise<unknown>, ms: number, concurrency: number): Promise<number> {
  let count = 0;
  const deadline = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await op();
        count++;
      }
    }),
  );
  return count;
}

async function latencies(op: () => Promise<unknown>, samples: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await op();
    out.push((performance.now() - t) * 1000);
  }
  return out.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function compare(
  contenders: Contender[],
  options: { rounds?: number; roundMs?: number; concurrency?: number; samples?: number } = {},
): Promise<Throughput[]> {
  const { rounds = 5, roundMs = 1000, concurrency = 1, samples = 2000 } = options;
  for (const c of contenders) await runFor(c.op, 300, concurrency); // warm up JIT, pools, plans
  const rates = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) rates.get(c.name)!.push((await runFor(c.op, roundMs, concurrency)) / (roundMs / 1000));
  }
  const out: Throughput[] = [];
  for (const c of contenders) {
    const lat = await latencies(c.op, samples);
    out.push({ name: c.name, opsPerSec: median(rates.get(c.name)!), p50us: pct(lat, 0.5), p99us: pct(lat, 0.99) });
  }
  return out;
}

/** A/B overhead of one switch (metrics on vs off): throughput ratio and Node CPU per op, per round pair. */
export interface Overhead {
  /** Median over round pairs of (B ops/s) / (A ops/s): 1.0 is no cost. */
  ratio: number;
  /** Every pair's ratio, for the closing notes. */
  ratios: number[];
  /** Median Node CPU (user + system) µs per op of A and B: what B adds, independent of how busy the machine is. */
  cpuUsA: number;
  cpuUsB: number;
}

/**
 * Compare two variants of one op in back-to-back round pairs (A B, B A, A B,
 * ...), each pair's ratio taken on its own so slow drift of a shared machine
 * cancels; the median of the pair ratios is the overhead. Node's own CPU per
 * op is measured too: on a machine busy with other work throughput moves,
 * CPU per op much less.
 */
export async function overhead(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  options: { pairs?: number; roundMs?: number; concurrency?: number } = {},
): Promise<Overhead> {
  const { pairs = 15, roundMs = 1000, concurrency = 1 } = options;
  await runFor(a, 300, concurrency);
  await runFor(b, 300, concurrency);
  const measure = async (op: () => Promise<unknown>) => {
    const cpu = process.cpuUsage();
    const n = await runFor(op, roundMs, concurrency);
    const used = process.cpuUsage(cpu);
    return { rate: n, cpuUs: (used.user + used.system) / n };
  };
  const ratios: number[] = [];
  const cpuA: number[] = [];
  const cpuB: number[] = [];
  for (let p = 0; p < pairs; p++) {
    const first = p % 2 === 0 ? a : b;
    const x = await measure(first);
    const y = await measure(first === a ? b : a);
    const [ra, rb] = first === a ? [x, y] : [y, x];
    ratios.push(rb.rate / ra.rate);
    cpuA.push(ra.cpuUs);
    cpuB.push(rb.cpuUs);
  }
  return { ratio: median(ratios), ratios, cpuUsA: median(cpuA), cpuUsB: median(cpuB) };
}

export function printTable(title: string, rows: Record<string, string | number>[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number) =>
    typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : v;
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(cell(r[c]!)).length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(cols));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => String(cell(r[c]!)))));
}

/** Append a result record to bench/results/<name>.json for the closing notes. */
export function saveResult(name: string, result: unknown): void {
  const path = new URL(`./results/${name}.json`, import.meta.url).pathname;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ at: new Date().toISOString(), node: process.version, result }, null, 2)}\n`);
}

/** A vehicle row of the vin-bot example: what a cache typically holds (both cache benches read it). */
export const sampleVehicle = {
  id: 4711,
  vin: '1HGBH41JXMN109186',
  make: 'Honda',
  model: 'Accord',
  year: 1991,
  raw_data: { Make: 'Honda', Model: 'Accord', ModelYear: 1991, PlantCountry: 'United States', WMI: '1HG' },
  decoded_at: new Date('2026-01-01T00:00:00Z'),
  expires_at: new Date('2026-04-01T00:00:00Z'),
};

/**
 * This process's peak RSS in MB: Linux's VmHWM, the high-water mark of this
 * program's own address space. Not `process.resourceUsage().maxRSS`: Linux
 * carries ru_maxrss across fork and exec, so a child spawned by a parent
 * that once held 1.7 GB reports 1.7 GB however little it used itself
 * (measured: a child of a 540 MB parent reported 504 MB at 39 MB resident).
 */
export function peakRssMb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to getrusage, right when the parent was smaller than this child
  }
  return process.resourceUsage().maxRSS / 1024;
}
