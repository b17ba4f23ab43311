import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { E_CONFIG, FerryError } from '../../errors.js';
import { introspect } from '../../migrate/introspect.js';
import { pullWarnings, renderSchemaModule } from '../../migrate/pull.js';
import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';

export function registerPull(program: Command, globals: () => GlobalOptions): void {
  program
    .command('pull')
    .description('introspect a live database and write a schema module (DSL) describing it')
    .option('--out <file>', 'write the module here instead of printing it')
    .option('--force', 'overwrite --out if it exists')
    .option('--import-from <module>', 'module the generated file imports the DSL from', 'ferry')
    .option('--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)')
    .action(async (options: { out?: string; force?: boolean; importFrom: string; url?: string }) => {
      const config = await loadConfig({ configPath: globals().config });
      const out = options.out ? resolve(options.out) : null;
      if (out && existsSync(out) && !options.force) {
        throw new FerryError(E_CONFIG, `${out} exists; pass --force to overwrite it.`);
      }
      const handle = await openProjectDatabase(config, { url: options.url });
      try {
        const ir = await introspect(handle.db);
        const module = renderSchemaModule(ir, { importFrom: options.importFrom });
        for (const w of pullWarnings(ir)) process.stderr.write(`ferry pull: warning: ${w}\n`);
        if (out) {
          writeFileSync(out, module);
          process.stdout.write(`wrote ${out}: ${ir.tables.length} tables, ${ir.enums.length} enums\n`);
        } else {
          process.stdout.write(module);
        }
      } finally {
        await handle.close();
      }
    });
}
