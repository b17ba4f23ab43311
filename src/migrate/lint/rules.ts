/** The linter's public types and its rule list (see ../lint.ts for what each rule checks and why). */

export type LintSeverity = 'error' | 'warning';

export interface LintFinding {
  /** Stable rule id, one of LINT_RULES. */
  rule: string;
  severity: LintSeverity;
  /** What is wrong, naming the table, column or index. */
  message: string;
  /** How to do it safely. */
  hint: string;
  file?: string;
  /** 1-based line of the offending clause (for an ALTER TABLE with several actions, the action's line). */
  line: number;
  /** The whole statement, without its `;`. */
  statement: string;
}

export interface LintContext {
  /** Tables that exist before this migration runs (creating an index on a table created in the same migration is fine). */
  existingTables?: ReadonlySet<string>;
  /** The file runs outside a transaction (`-- ferry:no-transaction`). Default: read from the file's first line. */
  noTransaction?: boolean;
  file?: string;
  /**
   * Whether the runner sets `lock_timeout`/`statement_timeout` itself (Ferry's
   * does, for every migration). Default true, which silences
   * `require-timeout-settings`; pass false for files run by another tool.
   */
  runnerSetsTimeouts?: boolean;
}

export interface LintRule {
  id: string;
  severity: LintSeverity;
  summary: string;
}

export const LINT_RULES: readonly LintRule[] = [
  {
    id: 'require-concurrent-index-creation',
    severity: 'error',
    summary: 'CREATE INDEX without CONCURRENTLY on an existing table blocks writes while the index builds.',
  },
  {
    id: 'concurrently-in-transaction',
    severity: 'error',
    summary: 'CREATE/DROP INDEX CONCURRENTLY and REINDEX CONCURRENTLY cannot run inside a transaction.',
  },
  {
    id: 'changing-column-type',
    severity: 'warning',
    summary: 'ALTER COLUMN ... TYPE holds ACCESS EXCLUSIVE and usually rewrites the table.',
  },
  {
    id: 'adding-not-nullable-field',
    severity: 'error',
    summary: 'ADD COLUMN ... NOT NULL without DEFAULT fails on a table that has rows.',
  },
  {
    id: 'adding-volatile-default',
    severity: 'warning',
    summary:
      'ADD COLUMN with a volatile default (random(), gen_random_uuid(), nextval(), serial...) rewrites the table.',
  },
  {
    id: 'constraint-missing-not-valid',
    severity: 'error',
    summary: 'ADD CONSTRAINT ... FOREIGN KEY/CHECK without NOT VALID scans the table while blocking writes.',
  },
  {
    id: 'setting-not-nullable-field',
    severity: 'warning',
    summary: 'SET NOT NULL without a validated CHECK (col IS NOT NULL) scans the table under ACCESS EXCLUSIVE.',
  },
  { id: 'ban-drop-column', severity: 'warning', summary: 'DROP COLUMN loses data and breaks code that still uses it.' },
  { id: 'ban-drop-table', severity: 'warning', summary: 'DROP TABLE loses data and breaks code that still uses it.' },
  {
    id: 'renaming-column',
    severity: 'warning',
    summary: 'RENAME COLUMN breaks the running release during the deploy.',
  },
  { id: 'renaming-table', severity: 'warning', summary: 'RENAME TO breaks the running release during the deploy.' },
  {
    id: 'require-timeout-settings',
    severity: 'warning',
    summary:
      'A strong lock taken without SET lock_timeout can queue every query behind it (only when the runner does not set timeouts).',
  },
  {
    id: 'rls-without-policy',
    severity: 'warning',
    summary: 'Row-level security enabled on a table no policy covers: every row is denied to all but the owner.',
  },
  {
    id: 'trigger-on-existing-table',
    severity: 'warning',
    summary:
      'A trigger added to a table already in use runs on every write from then on, and CREATE TRIGGER blocks writes while it waits for its lock.',
  },
  {
    id: 'view-bypasses-rls',
    severity: 'warning',
    summary: 'A view without security_invoker over a table with row-level security shows rows as its owner sees them.',
  },
  // Citus (lint/citus.ts): checked on the schema by migrate new.
  {
    id: 'citus-unique-without-distribution-column',
    severity: 'error',
    summary:
      'A primary key, unique constraint or unique index of a distributed table must include its distribution column.',
  },
  {
    id: 'citus-foreign-key-without-distribution-column',
    severity: 'error',
    summary: 'A foreign key between distributed tables must pair their distribution columns.',
  },
  {
    id: 'citus-foreign-key-not-colocated',
    severity: 'error',
    summary: 'A foreign key between distributed tables needs them co-located.',
  },
  {
    id: 'citus-foreign-key-to-local-table',
    severity: 'error',
    summary: 'A foreign key between a distributed table and a local (not distributed, not reference) table.',
  },
  {
    id: 'citus-reference-to-distributed',
    severity: 'error',
    summary: 'A reference table cannot have a foreign key to a distributed table.',
  },
  {
    id: 'citus-colocate-mismatch',
    severity: 'error',
    summary: 'colocateWith must name a distributed table whose distribution column has the same type.',
  },
  {
    id: 'citus-nullable-distribution-column',
    severity: 'warning',
    summary: 'Citus rejects rows whose distribution column is NULL.',
  },
];

export const SEVERITY = new Map(LINT_RULES.map((r) => [r.id, r.severity]));
