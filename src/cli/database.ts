/**
 * How every CLI command opens the project's database.
 *
 * The default embedded database lives beside the config file
 * (`<project>/.ferry/pglite`), not in the shell's folder: run from a
 * subfolder, a command must see the same database as from the project root,
 * never a new empty one. URLs and FERRY_DATA_DIR typed in the shell keep
 * resolving against the shell's folder, as shell paths do.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedConfig } from '../config.js';
import { type DbHandle, openDatabase } from '../db/open.js';
import { extensionsCreatedIn, PGLITE_EXTENSIONS } from '../db/pglite-extensions.js';

export interface ProjectDatabaseOptions {
  /** `--url`. */
  url?: string;
  /**
   * Commands whose job is to fill a database (`migrate up`, `import`) create
   * it quietly; any other command that finds none says so on stderr, since
   * its report on an empty database (`applied 0`) would otherwise look real.
   */
  creates?: boolean;
}

export function openProjectDatabase(config: LoadedConfig, options: ProjectDatabaseOptions = {}): Promise<DbHandle> {
  return openDatabase({
    url: options.url,
    dataDir: config.dataDir,
    projectDir: config.dir,
    extensions: migrationExtensions(config.migrationsDir),
    onCreate: options.creates
      ? undefined
      : (dataDir) => process.stderr.write(`ferry: created a new embedded database at ${dataDir}\n`),
  });
}

/**
 * The extensions the project's migrations create that PGlite ships, so that
 * an embedded database has their bundles loaded when `migrate up` (or down)
 * runs `CREATE EXTENSION` (PostgreSQL ignores the list). Read leniently: a
 * malformed migrations folder is for the migration commands to report.
 */
function migrationExtensions(dir: string): string[] {
  const names = new Set<string>();
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  for (const entry of entries) {
    for (const file of ['up.sql', 'down.sql']) {
      try {
        for (const name of extensionsCreatedIn(readFileSync(join(dir, entry, file), 'utf8'))) names.add(name);
      } catch {
        // not a migration folder, or no such file
      }
    }
  }
  return [...names].filter((n) => PGLITE_EXTENSIONS.includes(n));
}
