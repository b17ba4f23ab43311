/**
 * Dependencies that only one feature needs are optional peers, loaded the
 * first time that feature is used: an app that never reads a SQLite file does
 * not compile better-sqlite3's native addon on `npm install`, and one that
 * never rate-limits does not load rate-limiter-flexible.
 *
 *   const { default: Database } = requireOptional<typeof import('better-sqlite3')>('better-sqlite3', 'the sqlite() source');
 *
 * Synchronous on purpose (`createRequire`; every package listed here ships
 * CommonJS): the feature's factory (`sqlite()`, `createRateLimiter()`) fails
 * at once with an install hint instead of on its first call.
 */
import { createRequire } from 'node:module';
import { E_MISSING_DEPENDENCY, FerryError } from './errors.js';

/** The optional peers and the feature each one serves (kept in sync with package.json's peerDependencies). */
export const OPTIONAL_DEPENDENCIES = {
  'better-sqlite3': 'the sqlite() import source',
  'csv-parse': 'the csv() import source',
  'prom-client': 'the Prometheus metrics of ferry/ops (metrics())',
  'rate-limiter-flexible': 'createRateLimiter()',
} as const;

export type OptionalDependency = keyof typeof OPTIONAL_DEPENDENCIES;

const loaded = new Map<string, unknown>();

/**
 * Load an optional peer, or throw `E_MISSING_DEPENDENCY` saying which
 * feature needs it and the command that installs it. `from` is where
 * resolution starts (default: this package), for tests.
 */
export function requireOptional<T>(name: OptionalDependency, from: string | URL = import.meta.url): T {
  const key = `${String(from)}\0${name}`;
  if (loaded.has(key)) return loaded.get(key) as T;
  const require = createRequire(from);
  let module: T;
  try {
    module = require(name) as T;
  } catch (err) {
    // Only "this very package is not installed" becomes the install hint; a
    // broken install (a native addon built for another Node) keeps its cause.
    const code = (err as { code?: string })?.code;
    const missing = code === 'MODULE_NOT_FOUND' && (err as Error).message.includes(`'${name}'`);
    throw new FerryError(
      E_MISSING_DEPENDENCY,
      missing
        ? `${OPTIONAL_DEPENDENCIES[name]} needs the optional package ${name}, which is not installed. Run: npm install ${name}`
        : `${OPTIONAL_DEPENDENCIES[name]} needs ${name}, which is installed but failed to load: ${(err as Error)?.message ?? String(err)}. Reinstall it: npm install ${name}`,
      { cause: err, details: { package: name, feature: OPTIONAL_DEPENDENCIES[name] } },
    );
  }
  loaded.set(key, module);
  return module;
}
