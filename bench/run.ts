/**
 * `npm run bench [-- name...]`: run the benchmarks (all, or those named) one
 * after another in this process and print their tables.
 */
const benches: Record<string, () => Promise<unknown>> = {
  'repo-get': () => import('./repo-get.bench.js'),
  'migrate-introspect': () => import('./migrate-introspect.bench.js'),
  import: () => import('./import.bench.js'),
  cache: () => import('./cache.bench.js'),
  'cache-cluster': () => import('./cache-cluster.bench.js'),
  'sql-lexer': () => import('./sql-lexer.bench.js'),
  backup: () => import('./backup.bench.js'),
  export: () => import('./export.bench.js'),
  cutover: () => import('./cutover.bench.js'),
  studio: () => import('./studio.bench.js'),
  pgbouncer: () => import('./pgbouncer.bench.js'),
  replicas: () => import('./replicas.bench.js'),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in benches));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(benches)) {
  console.log(`\n=== ${name}`);
  await benches[name]!();
}
