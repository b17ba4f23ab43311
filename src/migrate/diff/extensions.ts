/**
 * Changes to extensions. They come first in a migration (what follows may use
 * their types, functions and operator classes) and, when removed, go last,
 * after every table that may have used them; a down migration undoes them in
 * reverse, so a created extension is dropped last there too.
 */
import { commentSql } from '../../schema/comments.js';
import { createExtension, dropExtension } from '../../schema/extension.js';
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { ExtensionIR } from '../../schema/ir.js';
import { literal } from '../../schema/sql.js';
import { type Change, change } from './change.js';

export function createExtensionChange(e: ExtensionIR): Change {
  return change('main', `create extension ${e.name}`, [createExtension(e)], [dropExtension(e)]);
}

/** Dropping an extension drops nothing of the schema's (its dependents are gone by then), but undoing it gets only the extension back. */
export function dropExtensionChange(e: ExtensionIR): Change {
  const comment = e.comment !== undefined ? [commentSql({ kind: 'extension', name: e.name }, e.comment)] : [];
  return {
    ...change('main', `drop extension ${e.name}`, [dropExtension(e)], [createExtension(e), ...comment]),
    destructive: true,
  };
}

/** Version and schema changes of an extension that stays: `ALTER EXTENSION ... UPDATE TO` / `SET SCHEMA`. */
export function alterExtensionChanges(old: ExtensionIR, next: ExtensionIR): Change[] {
  const out: Change[] = [];
  if (old.version !== next.version) {
    out.push({
      ...change(
        'main',
        `update extension ${next.name} (${old.version ?? 'default'} -> ${next.version ?? 'default'})`,
        [updateTo(next.name, next.version)],
        [updateTo(next.name, old.version)],
      ),
      warning:
        'Extensions rarely ship downgrade scripts: the down migration fails unless the extension provides the update ' +
        'path back.',
    });
  }
  if (old.schema !== next.schema) {
    out.push(
      change(
        'main',
        `move extension ${next.name} to schema ${next.schema ?? '(default)'}`,
        [setSchema(next.name, next.schema)],
        [setSchema(next.name, old.schema)],
      ),
    );
  }
  return out;
}

/** `UPDATE` without `TO` goes to the default version. */
function updateTo(name: string, version: string | null): string {
  return `ALTER EXTENSION ${q(name)} UPDATE${version === null ? '' : ` TO ${literal(version)}`}`;
}

/** Null is the schema described, whatever it is named where the migration runs. */
function setSchema(name: string, schema: string | null): string {
  if (schema !== null) return `ALTER EXTENSION ${q(name)} SET SCHEMA ${q(schema)}`;
  return `DO $$ BEGIN EXECUTE format('ALTER EXTENSION %I SET SCHEMA %I', ${literal(name)}, current_schema()); END $$`;
}
