import type { Command } from 'commander';
import { loadConfig, loadSchemaModule } from '../../config.js';
import { renderCreateSql } from '../../schema/ddl.js';
import { defineSchema } from '../../schema/schema.js';
import type { GlobalOptions } from '../globals.js';
import { printJson } from '../output.js';

export function registerSchema(program: Command, globals: () => GlobalOptions): void {
  const schema = program.command('schema').description('work with the schema module named in ferry.config');
  schema
    .command('sql')
    .description('print the DDL that creates the whole schema (enums, tables, foreign keys, indexes)')
    .option('--json', 'print the schema IR as JSON instead')
    .action(async (options: { json?: boolean }) => {
      const config = await loadConfig({ configPath: globals().config });
      const ir = defineSchema(await loadSchemaModule(config)).toIR();
      if (options.json) printJson(ir);
      else process.stdout.write(renderCreateSql(ir));
    });
}
