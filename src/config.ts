import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { E_CONFIG, FerryError } from './errors.js';

export interface FerryConfig {
  /** The schema module, relative to the config file. Default `./schema.ts`. */
  schema?: string;
  /** The migrations folder, relative to the config file. Default `./migrations`. */
  migrations?: string;
  /** Embedded database folder when no DATABASE_URL is set, relative to the config file. */
  dataDir?: string;
}

/** Identity helper that gives `ferry.config.ts` types. */
export function defineConfig(config: FerryConfig): FerryConfig {
  return config;
}

export const CONFIG_FILES = ['ferry.config.ts', 'ferry.config.mts', 'ferry.config.js', 'ferry.config.mjs'];

const configSchema = z
  .object({ schema: z.string().min(1), migrations: z.string().min(1), dataDir: z.string().min(1) })
  .partial()
  .strict();

export interface LoadedConfig {
  /** Absolute path of the config file, or null when none was found. */
  path: string | null;
  /** Folder relative paths resolve against. */
  dir: string;
  schemaPath: string;
  migrationsDir: string;
  dataDir: string | undefined;
}

/** The config file in `cwd` or the nearest parent, or null. */
export function findConfigFile(cwd: string): string | null {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const name of CONFIG_FILES) {
      const candidate = resolve(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    if (dirname(dir) === dir) return null;
  }
}

/**
 * Load `--config` or the nearest `ferry.config.*` walking up from `cwd`.
 * With no file, defaults apply relative to `cwd`.
 */
export async function loadConfig(options: { cwd?: string; configPath?: string } = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const path = options.configPath ? resolve(cwd, options.configPath) : findConfigFile(cwd);
  if (options.configPath && !existsSync(path!)) {
    throw new FerryError(E_CONFIG, `Config file ${path} does not exist.`);
  }
  let raw: unknown = {};
  if (path) {
    const module = await importModule(path, 'config file');
    raw = module.default ?? module.config;
    if (raw === undefined) {
      throw new FerryError(
        E_CONFIG,
        `${path} has no default export. Write: export default defineConfig({ schema: './schema.ts' })`,
      );
    }
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.') || (issue as { keys?: string[] }).keys?.join(', ') || '(root)';
    throw new FerryError(
      E_CONFIG,
      `${path}: invalid config at "${key}": ${issue.message}. Known keys: schema, migrations, dataDir.`,
    );
  }
  const dir = path ? dirname(path) : cwd;
  return {
    path,
    dir,
    schemaPath: resolve(dir, parsed.data.schema ?? './schema.ts'),
    migrationsDir: resolve(dir, parsed.data.migrations ?? './migrations'),
    dataDir: parsed.data.dataDir ? resolve(dir, parsed.data.dataDir) : undefined,
  };
}

/** Import the schema module named by the config. */
export async function loadSchemaModule(config: LoadedConfig): Promise<Record<string, unknown>> {
  if (!existsSync(config.schemaPath)) {
    throw new FerryError(
      E_CONFIG,
      `Schema module ${config.schemaPath} does not exist. Set "schema" in ${config.path ?? 'ferry.config.ts'}.`,
    );
  }
  return importModule(config.schemaPath, 'schema module');
}

/** Import a .ts or .js module with no build step (tsx compiles TypeScript on the fly). */
export async function importModule(path: string, what: string): Promise<Record<string, unknown>> {
  try {
    if (/\.[mc]?ts$/.test(path)) {
      const { tsImport } = await import('tsx/esm/api');
      return await tsImport(pathToFileURL(path).href, import.meta.url);
    }
    return await import(pathToFileURL(path).href);
  } catch (err) {
    throw new FerryError(E_CONFIG, `Could not load the ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}
