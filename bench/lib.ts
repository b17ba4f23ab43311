/**
 * Tiny benchmark kit: interleaved rounds (A, B, A, B, ...) so that machine
 * noise hits every contender alike, throughput from a fixed number of
 * concurrent workers, and latency percentiles from one sequential worker.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
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
