/**
 * How every CLI command opens the project's database.
 *
 * The default embedded database lives beside the config file
 * (`<project>/.ferry/pglite`), not in the shell's folder: run from a
 * subfolder, a command must see the same database as from the project root,
 * never a new empty one. URLs and FERRY_DATA_DIR typed in the shell keep
 * resolving against the shell's folder, as shell paths do.
 */
import type { LoadedConfig } from '../config.js';
import { type DbHandle, openDatabase } from '../db/open.js';

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
    onCreate: options.creates
      ? undefined
      : (dataDir) => process.stderr.write(`ferry: created a new embedded database at ${dataDir}\n`),
  });
}
