/**
 * The SQL splitter and the migration linter over a large input: the
 * real-world schema dumps in ../shared/real-world-schemas (pg_dump output of
 * open-source apps), concatenated and repeated to a few MB so that one pass
 * takes long enough to time. Both read the input through src/sql/lexer.ts;
 * the figure to watch is MB/s per pass, median of ROUNDS rounds.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { lintSql } from '../src/migrate/lint.js';
import { splitStatements } from '../src/migrate/sql-split.js';
import { printTable, saveResult } from './lib.js';

const ROUNDS = 7;
const REPEAT = 20;
// ../shared next to the checkout (a worktree sits one level deeper); FERRY_REAL_WORLD_SCHEMAS
// overrides, as in test/migrate/real-world.test.ts.
const candidates = ['../../shared/real-world-schemas', '../../../shared/real-world-schemas'].map((p) =>
  path.resolve(import.meta.dirname, p),
);
const DIR = process.env.FERRY_REAL_WORLD_SCHEMAS || candidates.find((p) => existsSync(p)) || candidates[0]!;

const files = readdirSync(DIR).filter((f) => f.endsWith('.sql'));
if (files.length === 0) throw new Error(`no *.sql schema dumps in ${DIR}`);
const one = files.map((f) => readFileSync(path.join(DIR, f), 'utf8')).join('\n;\n');
const input = Array.from({ length: REPEAT }, () => one).join('\n;\n');
const mb = Buffer.byteLength(input) / 1e6;

function time(op: () => unknown): { ms: number; result: unknown } {
  const t = performance.now();
  const result = op();
  return { ms: performance.now() - t, result };
}

const contenders: [string, () => unknown][] = [
  ['splitStatements', () => splitStatements(input).length],
  ['lintSql', () => lintSql(input).length],
];
const samples = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
const results = new Map<string, unknown>();
for (const [, op] of contenders) op(); // warm-up (JIT)
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, op] of r % 2 === 0 ? contenders : [...contenders].reverse()) {
    const { ms, result } = time(op);
    samples.get(name)!.push(ms);
    results.set(name, result);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows = contenders.map(([name]) => {
  const ms = median(samples.get(name)!);
  return { contender: name, 'median ms': ms, 'MB/s': mb / (ms / 1000), output: String(results.get(name)) };
});
printTable(`${files.length} schema dumps x ${REPEAT} = ${mb.toFixed(2)} MB, median of ${ROUNDS} rounds`, rows);
saveResult('sql-lexer', rows);
