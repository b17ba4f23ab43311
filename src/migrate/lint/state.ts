/** What the linter tracks while it reads a file: which tables exist, which checks are known, and the findings. */
import type { SqlStatement } from '../sql-split.js';
import { type LintContext, type LintFinding, SEVERITY } from './rules.js';
import type { Token } from './tokens.js';

/** `table \0 constraint` → the column a `CHECK (column IS NOT NULL)` constraint covers. */
export type CheckMap = Map<string, string>;
export const checkKey = (table: string, name: string) => `${table}\u0000${name}`;

/** Which tables exist, as the migration goes. */
export class SchemaState {
  /** Tables that existed before the current file, or null: unknown, assume every table not created here. */
  #before: Set<string> | null;
  /** Tables created by the current file. */
  #created = new Set<string>();
  /** Tables dropped or renamed away by the current file (when `#before` is unknown). */
  #gone = new Set<string>();

  /** Tables created `PARTITION BY` by this or an earlier file: `CREATE INDEX … ON ONLY` builds nothing on them. */
  readonly partitioned = new Set<string>();

  constructor(existing: ReadonlySet<string> | null) {
    this.#before = existing ? new Set(existing) : null;
  }

  /** The current file's new tables become existing ones for the next. */
  beginFile(): void {
    if (this.#before) for (const t of this.#created) this.#before.add(t);
    this.#created.clear();
    this.#gone.clear();
  }

  exists(table: string): boolean {
    if (this.#created.has(table)) return false;
    return this.#before ? this.#before.has(table) : !this.#gone.has(table);
  }

  known(table: string): boolean {
    return this.#created.has(table) || this.exists(table);
  }

  create(table: string): void {
    this.#created.add(table);
    this.#gone.delete(table);
  }

  drop(table: string): void {
    this.#created.delete(table);
    this.#before?.delete(table);
    this.#gone.add(table);
  }

  rename(from: string, to: string): void {
    if (this.#created.has(from)) {
      this.#created.delete(from);
      this.#created.add(to);
    } else if (this.exists(from)) {
      this.#before?.delete(from);
      this.#before?.add(to);
      this.#gone.add(from);
      this.#gone.delete(to);
    }
  }
}

export interface FileEnv {
  sql: string;
  context: LintContext;
  noTransaction: boolean;
  state: SchemaState;
  checks: CheckMap;
  /** Check constraints validated in this file (keys of `checks`' form). */
  validated: Set<string>;
  findings: LintFinding[];
  /** Statement being linted, its tokens. */
  statement: SqlStatement;
  tokens: Token[];
}

export function report(env: FileEnv, rule: string, tokenIndex: number, message: string, hint: string): void {
  const tok = env.tokens[tokenIndex] ?? env.tokens[0]!;
  const line = env.statement.line + countNewlines(env.statement.text, tok.start);
  const finding: LintFinding = {
    rule,
    severity: SEVERITY.get(rule)!,
    message,
    hint,
    line,
    statement: env.statement.text,
  };
  if (env.context.file !== undefined) finding.file = env.context.file;
  env.findings.push(finding);
}

function countNewlines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < end; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
