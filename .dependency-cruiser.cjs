/**
 * Ferry's layering, checked by `npm run lint` (depcruise src). From the bottom:
 *
 *   errors.ts, optional-dependency.ts,  leaf files anybody may import
 *   logger.ts, duration.ts
 *   sql/                                the SQL lexer: imports nothing but errors
 *   schema/, db/                        the schema DSL and database handles
 *   repo/                               repositories over schema + db
 *   cache/, migrate/, import/, ops/...  features
 *   studio/                             the dashboard's server, over all of the above
 *   cli/                                the command line: imported by nobody
 *
 * A lower layer never imports a higher one, and nothing in src/ imports in a
 * circle. Type-only imports count (tsPreCompilationDeps): a type import still
 * ties the two modules together.
 */

/** What src/repo may import: schema, db and root-level leaf files. */
const REPO_MAY_IMPORT = ['^src/(repo|schema|db)/', '^src/(errors|duration)\\.ts$'];

const CIRCULAR_COMMENT = 'Modules in src/ import each other in a circle; move what both need to a lower module.';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: CIRCULAR_COMMENT,
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'schema-db-are-low',
      severity: 'error',
      comment:
        'src/schema and src/db sit below everything else: they import each other and root-level leaf files (errors.ts, optional-dependency.ts, logger.ts, duration.ts) only.',
      from: { path: '^src/(schema|db)/' },
      to: {
        path: '^src/',
        // logger.ts and duration.ts are leaves too (they import nothing but errors.ts): the pool's
        // timeouts are Durations and its background errors go to the one `logger` option.
        pathNot: ['^src/(schema|db)/', '^src/(errors|optional-dependency|logger|duration)\\.ts$'],
      },
    },
    {
      name: 'sql-imports-only-errors',
      severity: 'error',
      comment: 'src/sql (the lexer) is the bottom layer: it imports nothing in src/ but src/errors.ts.',
      from: { path: '^src/sql/' },
      to: { path: '^src/', pathNot: ['^src/sql/', '^src/errors\\.ts$'] },
    },
    {
      name: 'repo-imports-schema-db-errors',
      severity: 'error',
      comment:
        'src/repo builds on src/schema, src/db and leaf files (errors.ts, duration.ts) only: a cache plugs in through the RepositoryCache interface repo/ defines.',
      from: { path: '^src/repo/' },
      to: { path: '^src/', pathNot: REPO_MAY_IMPORT },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'src/cli is the top: only bin/ (through dist/) and tests load it.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'cli-loads-studio-lazily',
      severity: 'error',
      comment:
        'ferry studio loads src/studio with import() when it runs: a static import would load the server (and its dependencies) for every other command.',
      from: { path: '^src/cli/' },
      to: { path: '^src/studio/', dependencyTypesNot: ['dynamic-import', 'type-only'] },
    },
    {
      name: 'studio-ui-is-a-browser-bundle',
      severity: 'error',
      comment:
        "src/studio/ui is the browser UI (built by Vite into dist/studio-ui/): it imports nothing of Ferry's but the API contract's types (src/studio/api.ts), which keep Node out of the bundle.",
      from: { path: '^src/studio/ui/' },
      to: { path: '^src/', pathNot: ['^src/studio/ui/', '^src/studio/api\\.ts$'] },
    },
    {
      name: 'nothing-imports-studio-ui',
      severity: 'error',
      comment: 'The server serves the built UI (dist/studio-ui/) as files: no module in src/ imports its sources.',
      from: { path: '^src/', pathNot: '^src/studio/ui/' },
      to: { path: '^src/studio/ui/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve to a file cannot be checked against the rules above.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
