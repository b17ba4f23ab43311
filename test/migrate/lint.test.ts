/**
 * The migration linter: each rule on the SQL that trips it and on the SQL
 * that must not, then across files (lintMigrations) and on generated
 * migrations. Just over 600 lines: one table of rules, one case list each.
 */
import { describe, expect, it } from 'vitest';
import { diffSchemas } from '../../src/migrate/diff.js';
import { type MigrationFile, parseSqlFile } from '../../src/migrate/files.js';
import { LINT_RULES, type LintContext, type LintFinding, lintMigrations, lintSql } from '../../src/migrate/lint.js';
import { planMigrations } from '../../src/migrate/plan.js';
import { createStatements } from '../../src/schema/ddl.js';
import type { ColumnIR, SchemaIR, TableIR } from '../../src/schema/ir.js';

const EXISTING: LintContext = { existingTables: new Set(['users', 'posts', 'Mixed']) };

const rules = (sql: string, context: LintContext = EXISTING) => lintSql(sql, context).map((f) => f.rule);
const only = (sql: string, context: LintContext = EXISTING): LintFinding => {
  const found = lintSql(sql, context);
  expect(found).toHaveLength(1);
  return found[0]!;
};

function migration(id: string, up: string): MigrationFile {
  const parsed = parseSqlFile(`${id}/up.sql`, up);
  return {
    id,
    timestamp: id.slice(0, 14),
    name: id.slice(15),
    dir: '',
    up: parsed.text,
    down: null,
    upNoTransaction: parsed.noTransaction,
    downNoTransaction: false,
    checksum: '',
  };
}

describe('LINT_RULES', () => {
  it('lists every rule once, with a severity and a summary', () => {
    const ids = LINT_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(
      [
        'adding-not-nullable-field',
        'adding-volatile-default',
        'ban-drop-column',
        'ban-drop-table',
        'changing-column-type',
        'citus-colocate-mismatch',
        'citus-foreign-key-not-colocated',
        'citus-foreign-key-to-local-table',
        'citus-foreign-key-without-distribution-column',
        'citus-nullable-distribution-column',
        'citus-reference-to-distributed',
        'citus-unique-without-distribution-column',
        'concurrently-in-transaction',
        'constraint-missing-not-valid',
        'renaming-column',
        'renaming-table',
        'require-concurrent-index-creation',
        'require-timeout-settings',
        'rls-without-policy',
        'setting-not-nullable-field',
        'trigger-on-existing-table',
        'view-bypasses-rls',
      ].sort(),
    );
    for (const r of LINT_RULES) {
      expect(['error', 'warning']).toContain(r.severity);
      expect(r.summary.length).toBeGreaterThan(10);
    }
  });
});

describe('require-concurrent-index-creation', () => {
  it('fires on CREATE [UNIQUE] INDEX without CONCURRENTLY on an existing table', () => {
    const f = only('create index users_email_idx on users (email);');
    expect(f).toMatchObject({ rule: 'require-concurrent-index-creation', severity: 'error', line: 1 });
    expect(f.message).toContain('users_email_idx');
    expect(f.message).toContain('users');
    expect(f.hint).toContain('CONCURRENTLY');
    expect(f.hint).toContain('-- ferry:no-transaction');
    expect(rules('CREATE UNIQUE INDEX IF NOT EXISTS u ON ONLY public.users USING btree (lower(email));')).toEqual([
      'require-concurrent-index-creation',
    ]);
    expect(only('create index on "Mixed" (x)').message).toContain('Mixed');
  });

  it('is silent on CONCURRENTLY in a no-transaction file', () => {
    expect(lintSql('-- ferry:no-transaction\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);')).toEqual([]);
    expect(lintSql('CREATE INDEX CONCURRENTLY i ON users (email)', { ...EXISTING, noTransaction: true })).toEqual([]);
  });

  it('is silent on an index on a table created in the same file', () => {
    const sql = 'CREATE TABLE tags (id bigint PRIMARY KEY, name text);\nCREATE INDEX tags_name_idx ON tags (name);';
    expect(lintSql(sql, EXISTING)).toEqual([]);
    // Even when nothing says which tables exist.
    expect(lintSql(sql)).toEqual([]);
  });

  it('is silent on a table that does not exist yet, and assumes every other table exists without a set', () => {
    expect(rules('create index i on brand_new (x)')).toEqual([]);
    expect(rules('create index i on brand_new (x)', {})).toEqual(['require-concurrent-index-creation']);
  });
});

describe('concurrently-in-transaction', () => {
  it('fires on CREATE/DROP INDEX CONCURRENTLY and REINDEX CONCURRENTLY in a transactional file', () => {
    const f = only('CREATE INDEX CONCURRENTLY users_email_idx ON users (email)');
    expect(f).toMatchObject({ rule: 'concurrently-in-transaction', severity: 'error' });
    expect(f.message).toContain('users_email_idx');
    expect(f.hint).toContain('-- ferry:no-transaction');
    expect(only('DROP INDEX CONCURRENTLY IF EXISTS users_email_idx').message).toContain('users_email_idx');
    expect(rules('REINDEX INDEX CONCURRENTLY users_email_idx')).toEqual(['concurrently-in-transaction']);
    expect(rules('REINDEX (VERBOSE, CONCURRENTLY) TABLE users')).toEqual(['concurrently-in-transaction']);
  });

  it('is silent outside a transaction, and on plain REINDEX / DROP INDEX', () => {
    const noTx = { ...EXISTING, noTransaction: true };
    expect(rules('DROP INDEX CONCURRENTLY users_email_idx', noTx)).toEqual([]);
    expect(rules('REINDEX TABLE CONCURRENTLY users', noTx)).toEqual([]);
    expect(rules('REINDEX (CONCURRENTLY false) TABLE users')).toEqual([]);
    expect(rules('DROP INDEX users_email_idx')).toEqual([]);
  });

  it('reads the directive from the first line when the context does not say', () => {
    expect(lintSql('-- ferry:no-transaction\nDROP INDEX CONCURRENTLY i;')).toEqual([]);
    expect(lintSql('-- something else\nDROP INDEX CONCURRENTLY i;').map((f) => f.rule)).toEqual([
      'concurrently-in-transaction',
    ]);
    expect(lintSql('-- ferry:no-transaction\nDROP INDEX CONCURRENTLY i;', { noTransaction: false })).toHaveLength(1);
  });
});

describe('changing-column-type', () => {
  it('warns on ALTER COLUMN ... TYPE and SET DATA TYPE on an existing table', () => {
    const f = only('ALTER TABLE users ALTER COLUMN age TYPE bigint USING age::bigint');
    expect(f).toMatchObject({ rule: 'changing-column-type', severity: 'warning' });
    expect(f.message).toContain('users.age');
    expect(f.message).toContain('bigint');
    expect(f.hint).toMatch(/varchar/);
    expect(f.hint).toMatch(/expand\/contract/i);
    expect(rules('alter table users alter name set data type varchar(200)')).toEqual(['changing-column-type']);
  });

  it('is silent on a table created in the same file, and on other ALTER COLUMN forms', () => {
    expect(rules('create table t (a int);\nalter table t alter column a type bigint;')).toEqual([]);
    expect(rules('ALTER TABLE users ALTER COLUMN age SET DEFAULT 0, ALTER COLUMN age DROP NOT NULL')).toEqual([]);
  });
});

describe('adding-not-nullable-field', () => {
  it('errors on ADD COLUMN ... NOT NULL without DEFAULT on an existing table', () => {
    const f = only('ALTER TABLE users ADD COLUMN email text NOT NULL');
    expect(f).toMatchObject({ rule: 'adding-not-nullable-field', severity: 'error' });
    expect(f.message).toContain('users.email');
    expect(rules('ALTER TABLE users ADD email text NOT NULL DEFAULT NULL')).toEqual(['adding-not-nullable-field']);
    expect(rules('ALTER TABLE users ADD COLUMN code int PRIMARY KEY')).toEqual(['adding-not-nullable-field']);
  });

  it('is silent on a nullable column, a NOT NULL column with a default, and a new table', () => {
    expect(rules('ALTER TABLE users ADD COLUMN x int')).toEqual([]);
    expect(rules('ALTER TABLE users ADD COLUMN x int NULL')).toEqual([]);
    expect(rules("ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text NOT NULL DEFAULT 'free'")).toEqual([]);
    expect(rules('ALTER TABLE users ADD COLUMN n int DEFAULT 0 NOT NULL')).toEqual([]);
    expect(rules('CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN x int NOT NULL;')).toEqual([]);
  });
});

describe('adding-volatile-default', () => {
  it('warns on truly volatile defaults', () => {
    for (const expr of [
      'gen_random_uuid()',
      'random()',
      'clock_timestamp()',
      'timeofday()',
      "nextval('users_seq'::regclass)",
      'uuid_generate_v4()',
      'public.gen_random_uuid()',
      '(random() * 100)::int',
    ]) {
      const found = lintSql(`ALTER TABLE users ADD COLUMN x text DEFAULT ${expr}`, EXISTING);
      expect(
        found.map((f) => f.rule),
        expr,
      ).toEqual(['adding-volatile-default']);
      expect(found[0]!.severity).toBe('warning');
      expect(found[0]!.message).toContain('users.x');
    }
  });

  it('warns on serial, identity and stored generated columns (a value per row)', () => {
    expect(rules('ALTER TABLE users ADD COLUMN n bigserial')).toEqual(['adding-volatile-default']);
    expect(rules('ALTER TABLE users ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY')).toEqual([
      'adding-volatile-default',
    ]);
    expect(rules('ALTER TABLE users ADD COLUMN n int GENERATED ALWAYS AS (a + 1) STORED')).toEqual([
      'adding-volatile-default',
    ]);
  });

  it('is silent on constant and stable defaults (now() is STABLE: no rewrite on PG11+)', () => {
    expect(rules('ALTER TABLE users ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()')).toEqual([]);
    expect(rules('ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT CURRENT_TIMESTAMP')).toEqual([]);
    expect(rules('ALTER TABLE users ADD COLUMN at timestamptz DEFAULT statement_timestamp()')).toEqual([]);
    expect(rules("ALTER TABLE users ADD COLUMN tier text DEFAULT 'random()'")).toEqual([]);
    expect(rules('ALTER TABLE users ADD COLUMN n int DEFAULT 0')).toEqual([]);
    expect(rules('CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();')).toEqual([]);
  });
});

describe('constraint-missing-not-valid', () => {
  it('errors on a FOREIGN KEY or CHECK added without NOT VALID to an existing table', () => {
    const f = only(
      'ALTER TABLE posts ADD CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE',
    );
    expect(f).toMatchObject({ rule: 'constraint-missing-not-valid', severity: 'error' });
    expect(f.message).toContain('posts_user_id_fkey');
    expect(f.message).toContain('posts');
    expect(f.hint).toContain('VALIDATE CONSTRAINT posts_user_id_fkey');
    expect(rules('ALTER TABLE posts ADD CHECK (length(title) > 0)')).toEqual(['constraint-missing-not-valid']);
    expect(rules('ALTER TABLE posts ADD FOREIGN KEY (user_id) REFERENCES users')).toEqual([
      'constraint-missing-not-valid',
    ]);
  });

  it('has no same-file exception: NOT VALID then VALIDATE belongs in two migrations', () => {
    expect(
      rules(
        'ALTER TABLE posts ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);\n' +
          'ALTER TABLE posts VALIDATE CONSTRAINT fk;',
      ),
    ).toEqual(['constraint-missing-not-valid']);
  });

  it('is silent on NOT VALID, on VALIDATE in another file, on new tables and on other constraints', () => {
    const files = [
      migration(
        '20240101000000_init',
        'CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE posts (id bigint, user_id bigint);',
      ),
      migration(
        '20240102000000_fk',
        'ALTER TABLE posts ADD CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;',
      ),
      migration('20240103000000_fk_validate', 'ALTER TABLE posts VALIDATE CONSTRAINT posts_user_id_fkey;'),
    ];
    expect(lintMigrations(files)).toEqual([]);
    expect(rules('ALTER TABLE posts ADD CONSTRAINT c CHECK (x > 0) NOT VALID')).toEqual([]);
    expect(rules('CREATE TABLE t (id int, u int);\nALTER TABLE t ADD FOREIGN KEY (u) REFERENCES users (id);')).toEqual(
      [],
    );
    expect(rules('ALTER TABLE posts ADD CONSTRAINT posts_title_key UNIQUE (title)')).toEqual([]);
  });
});

describe('setting-not-nullable-field', () => {
  it('warns on SET NOT NULL with no validated check', () => {
    const f = only('ALTER TABLE users ALTER COLUMN name SET NOT NULL');
    expect(f).toMatchObject({ rule: 'setting-not-nullable-field', severity: 'warning' });
    expect(f.message).toContain('users.name');
    expect(f.hint).toContain('NOT VALID');
    expect(f.hint).toContain('VALIDATE');
  });

  it('still warns when the check is only added NOT VALID, or validated after, or covers another column', () => {
    expect(
      rules(
        'ALTER TABLE users ADD CONSTRAINT chk CHECK (name IS NOT NULL) NOT VALID;\nALTER TABLE users ALTER COLUMN name SET NOT NULL;',
      ),
    ).toEqual(['setting-not-nullable-field']);
    expect(
      rules(
        'ALTER TABLE users ALTER COLUMN name SET NOT NULL;\nALTER TABLE users VALIDATE CONSTRAINT users_name_not_null;',
      ),
    ).toEqual(['setting-not-nullable-field']);
    expect(
      rules('ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;\nALTER TABLE users ALTER name SET NOT NULL;'),
    ).toEqual(['setting-not-nullable-field']);
  });

  it('is silent after a CHECK (col IS NOT NULL) validated earlier in the same file', () => {
    // Ferry's naming convention, the definition being in an earlier migration.
    expect(
      rules(
        'ALTER TABLE users VALIDATE CONSTRAINT users_name_not_null;\n' +
          'ALTER TABLE users ALTER COLUMN name SET NOT NULL;\n' +
          'ALTER TABLE users DROP CONSTRAINT users_name_not_null;',
      ),
    ).toEqual([]);
    // Any name, definition tracked across migrations.
    const files = [
      migration('20240101000000_init', 'CREATE TABLE users (id int, name text);'),
      migration(
        '20240102000000_check',
        'ALTER TABLE users ADD CONSTRAINT name_present CHECK ((name IS NOT NULL)) NOT VALID;',
      ),
      migration(
        '20240103000000_validate',
        'ALTER TABLE users VALIDATE CONSTRAINT name_present;\nALTER TABLE users ALTER COLUMN name SET NOT NULL;',
      ),
    ];
    expect(lintMigrations(files)).toEqual([]);
    // A new table.
    expect(rules('CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;')).toEqual([]);
  });
});

describe('ban-drop-column / ban-drop-table', () => {
  it('warns on dropping a column or a table that exists', () => {
    const col = only('ALTER TABLE users DROP COLUMN IF EXISTS legacy CASCADE');
    expect(col).toMatchObject({ rule: 'ban-drop-column', severity: 'warning' });
    expect(col.message).toContain('users.legacy');
    expect(col.hint).toMatch(/deploy code/i);
    const found = lintSql('DROP TABLE IF EXISTS users, public.posts CASCADE', EXISTING);
    expect(found.map((f) => [f.rule, f.severity])).toEqual([
      ['ban-drop-table', 'warning'],
      ['ban-drop-table', 'warning'],
    ]);
    expect(found[0]!.message).toContain('users');
    expect(found[1]!.message).toContain('posts');
    expect(found[0]!.hint).toMatch(/deploy code/i);
  });

  it('is silent on tables created in the same file and on DROP CONSTRAINT', () => {
    expect(rules('CREATE TABLE tmp (a int, b int);\nALTER TABLE tmp DROP COLUMN b;\nDROP TABLE tmp;')).toEqual([]);
    expect(rules('ALTER TABLE users DROP CONSTRAINT users_name_key')).toEqual([]);
  });
});

describe('renaming-column / renaming-table', () => {
  it('warns on renames of existing objects', () => {
    const c = only('ALTER TABLE users RENAME COLUMN name TO full_name');
    expect(c).toMatchObject({ rule: 'renaming-column', severity: 'warning' });
    expect(c.message).toContain('users.name');
    expect(c.message).toContain('full_name');
    expect(c.hint).toMatch(/expand\/contract/i);
    const t = only('ALTER TABLE users RENAME TO accounts');
    expect(t).toMatchObject({ rule: 'renaming-table', severity: 'warning' });
    expect(t.message).toContain('users');
    expect(t.message).toContain('accounts');
    expect(rules('ALTER TABLE "Mixed" RENAME "Col" TO col')).toEqual(['renaming-column']);
  });

  it('is silent on constraint renames and new tables', () => {
    expect(rules('ALTER TABLE users RENAME CONSTRAINT a TO b')).toEqual([]);
    expect(rules('CREATE TABLE t (a int);\nALTER TABLE t RENAME a TO b;\nALTER TABLE t RENAME TO t2;')).toEqual([]);
  });

  it('follows a renamed table: the new name exists, the old one does not', () => {
    expect(
      rules('ALTER TABLE users RENAME TO accounts;\nCREATE INDEX a_idx ON accounts (x);\nCREATE INDEX b ON users (x);'),
    ).toEqual(['renaming-table', 'require-concurrent-index-creation']);
  });
});

describe('require-timeout-settings', () => {
  const strong = 'ALTER TABLE users ADD COLUMN x int;\nCREATE INDEX i ON posts (x);';

  it("is silent by default: Ferry's runner sets lock_timeout and statement_timeout itself", () => {
    expect(rules(strong)).toEqual(['require-concurrent-index-creation']);
    expect(rules(strong, { ...EXISTING, runnerSetsTimeouts: true })).toEqual(['require-concurrent-index-creation']);
  });

  it('fires once, on the first strong lock, when the runner does not set timeouts', () => {
    const found = lintSql(strong, { ...EXISTING, runnerSetsTimeouts: false });
    const timeout = found.filter((f) => f.rule === 'require-timeout-settings');
    expect(timeout).toHaveLength(1);
    expect(timeout[0]).toMatchObject({ severity: 'warning', line: 1 });
    expect(timeout[0]!.hint).toContain('lock_timeout');
  });

  it('is satisfied by SET [LOCAL] lock_timeout or set_config before the strong lock', () => {
    const ctx = { ...EXISTING, runnerSetsTimeouts: false };
    const timeouts = (sql: string) => rules(sql, ctx).filter((r) => r === 'require-timeout-settings');
    expect(timeouts(`SET LOCAL lock_timeout = '5s';\n${strong}`)).toEqual([]);
    expect(timeouts(`set lock_timeout to 2000;\n${strong}`)).toEqual([]);
    expect(timeouts(`select set_config('lock_timeout', '5s', true);\n${strong}`)).toEqual([]);
    expect(timeouts(`SET lock_timeout = 0;\n${strong}`)).toEqual(['require-timeout-settings']);
    expect(timeouts(`${strong}\nSET lock_timeout = '5s';`)).toEqual(['require-timeout-settings']);
    // Nothing strong: only new tables, or a no-transaction file.
    expect(timeouts('CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);')).toEqual([]);
    expect(rules('CREATE INDEX CONCURRENTLY i ON users (x)', { ...ctx, noTransaction: true })).toEqual([]);
  });
});

describe('parsing', () => {
  it('ignores keywords in comments and string literals', () => {
    const sql = [
      '-- CREATE INDEX foo ON bar',
      '/* DROP TABLE users; ALTER TABLE users DROP COLUMN x */',
      "INSERT INTO audit (note) VALUES ('CREATE INDEX foo ON users (x)');",
      "COMMENT ON TABLE users IS 'DROP TABLE users';",
      "SELECT $$ALTER TABLE users ADD COLUMN x int NOT NULL$$, E'\\'CREATE INDEX i ON users (x)';",
      'ALTER TABLE users ADD COLUMN note text -- NOT NULL',
      ", ADD COLUMN c text /* NOT NULL */ DEFAULT 'random()';",
    ].join('\n');
    expect(lintSql(sql, EXISTING)).toEqual([]);
  });

  it('reports the line of the statement, or of the offending ALTER TABLE action', () => {
    const sql = [
      '-- header',
      '',
      'CREATE TABLE t (a int);',
      '/* comment */ CREATE INDEX',
      '  users_x_idx ON users (x);',
      'ALTER TABLE users',
      '  ADD COLUMN a int,',
      '  ADD COLUMN b int NOT NULL,',
      "  ADD COLUMN c text DEFAULT 'x;y';",
      'DROP TABLE posts;',
    ].join('\n');
    const found = lintSql(sql, { ...EXISTING, file: 'm/up.sql' });
    expect(found.map((f) => [f.rule, f.line])).toEqual([
      ['require-concurrent-index-creation', 4],
      ['adding-not-nullable-field', 8],
      ['ban-drop-table', 10],
    ]);
    expect(found[0]!.file).toBe('m/up.sql');
    expect(found[0]!.statement).toBe('CREATE INDEX\n  users_x_idx ON users (x)');
    expect(lintSql('drop table users')[0]).not.toHaveProperty('file');
  });

  it('is case-insensitive for keywords and unquoted names, exact for quoted ones', () => {
    expect(rules('Create Index I On USERS (X)')).toEqual(['require-concurrent-index-creation']);
    expect(rules('create index i on "USERS" (x)')).toEqual([]);
    expect(rules('create index i on "Mixed" (x)')).toEqual(['require-concurrent-index-creation']);
    expect(rules('create index i on mixed (x)')).toEqual([]);
  });
});

describe('lintMigrations', () => {
  it('tracks the tables earlier migrations create, rename and drop', () => {
    const files = [
      migration(
        '20240101000000_init',
        'CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email_idx ON users (email);',
      ),
      migration(
        '20240102000000_more',
        'CREATE TABLE posts (id bigint);\nCREATE INDEX posts_id_idx ON posts (id);\nCREATE INDEX users_id_idx ON users (id);',
      ),
      migration('20240103000000_rename', 'ALTER TABLE posts RENAME TO articles;'),
      migration('20240104000000_idx', 'CREATE INDEX a ON articles (id);\nCREATE INDEX p ON posts (id);'),
      migration('20240105000000_drop', 'DROP TABLE articles;'),
      migration('20240106000000_again', 'CREATE INDEX a2 ON articles (id);'),
    ];
    const found = lintMigrations(files);
    expect(found.map((f) => [f.file, f.rule, f.line])).toEqual([
      ['20240102000000_more/up.sql', 'require-concurrent-index-creation', 3],
      ['20240103000000_rename/up.sql', 'renaming-table', 1],
      ['20240104000000_idx/up.sql', 'require-concurrent-index-creation', 1],
      ['20240105000000_drop/up.sql', 'ban-drop-table', 1],
    ]);
  });

  it('uses each file’s no-transaction flag', () => {
    const files = [
      migration('20240101000000_init', 'CREATE TABLE users (id bigint, email text);'),
      migration(
        '20240102000000_idx',
        '-- ferry:no-transaction\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);',
      ),
    ];
    expect(files[1]!.upNoTransaction).toBe(true);
    expect(lintMigrations(files)).toEqual([]);
  });
});

// ------------------------------------------------------------------ generated migrations

function col(name: string, type: string, extra: Partial<ColumnIR> = {}): ColumnIR {
  return {
    name,
    type,
    nullable: true,
    default: null,
    serial: false,
    identity: null,
    generated: null,
    comment: null,
    ...extra,
  };
}

function tbl(name: string, columns: ColumnIR[], extra: Partial<TableIR> = {}): TableIR {
  return {
    name,
    columns,
    primaryKey: { name: `${name}_pkey`, columns: ['id'] },
    uniques: [],
    foreignKeys: [],
    checks: [],
    indexes: [],
    comment: null,
    ...extra,
  };
}

const id = col('id', 'bigint', { nullable: false });

describe('migrations generated by diffSchemas + planMigrations', () => {
  const before: SchemaIR = {
    enums: [],
    tables: [
      tbl('users', [id, col('name', 'text')]),
      tbl('posts', [id, col('user_id', 'bigint'), col('title', 'text', { nullable: false })]),
    ],
  };
  const after: SchemaIR = {
    enums: [],
    tables: [
      tbl(
        'users',
        [
          id,
          col('name', 'text', { nullable: false }),
          col('email', 'text'),
          col('active', 'boolean', { nullable: false, default: 'true' }),
          col('created_at', 'timestamp with time zone', { nullable: false, default: 'now()' }),
        ],
        {
          checks: [{ name: 'users_name_length', expression: '(length(name) > 0)' }],
          indexes: [
            {
              name: 'users_email_idx',
              unique: true,
              method: 'btree',
              keys: [{ column: 'email', expression: null, order: 'asc', nulls: null, opclass: null }],
              include: [],
              where: null,
            },
          ],
        },
      ),
      tbl('posts', [id, col('user_id', 'bigint'), col('title', 'text', { nullable: false })], {
        foreignKeys: [
          {
            name: 'posts_user_id_fkey',
            columns: ['user_id'],
            references: { table: 'users', columns: ['id'] },
            onDelete: 'cascade',
            onUpdate: 'no action',
          },
        ],
        indexes: [
          {
            name: 'posts_user_id_idx',
            unique: false,
            method: 'btree',
            keys: [{ column: 'user_id', expression: null, order: 'asc', nulls: null, opclass: null }],
            include: [],
            where: null,
          },
        ],
      }),
      tbl('comments', [id, col('post_id', 'bigint', { nullable: false }), col('body', 'text')], {
        foreignKeys: [
          {
            name: 'comments_post_id_fkey',
            columns: ['post_id'],
            references: { table: 'posts', columns: ['id'] },
            onDelete: 'cascade',
            onUpdate: 'no action',
          },
        ],
        indexes: [
          {
            name: 'comments_post_id_idx',
            unique: false,
            method: 'btree',
            keys: [{ column: 'post_id', expression: null, order: 'asc', nulls: null, opclass: null }],
            include: [],
            where: null,
          },
        ],
      }),
    ],
  };
  const planned = planMigrations(diffSchemas(before, after), 'change');
  const baseline = migration(
    '20240101000000_baseline',
    createStatements(before)
      .map((s) => `${s};\n`)
      .join(''),
  );
  const files = [baseline, ...planned.map((p, i) => migration(`2024010200000${i}_${p.name}`, p.up))];

  it('produces the expected shape (NOT VALID, VALIDATE, SET NOT NULL, concurrent indexes)', () => {
    expect(planned.map((p) => p.phase)).toEqual(['main', 'validate', 'concurrent', 'concurrent']);
    const all = planned.map((p) => p.up).join('\n');
    expect(all).toContain('NOT VALID');
    expect(all).toContain('VALIDATE CONSTRAINT');
    expect(all).toContain('SET NOT NULL');
    expect(all).toContain('CREATE INDEX CONCURRENTLY');
    expect(all).toContain('CREATE INDEX comments_post_id_idx ON comments');
  });

  it('lints with no errors (and no warnings) through lintMigrations', () => {
    const found = lintMigrations(files);
    expect(found.filter((f) => f.severity === 'error')).toEqual([]);
    expect(found).toEqual([]);
  });

  it('lints with no errors file by file through lintSql', () => {
    const existingTables = new Set(before.tables.map((t) => t.name));
    for (const p of planned) {
      const found = lintSql(p.up, { existingTables });
      expect(found, p.name).toEqual([]);
    }
  });

  it('reports only warnings for destructive generated changes', () => {
    const shrunk: SchemaIR = {
      enums: [],
      tables: [tbl('users', [id, col('name', 'integer')])],
    };
    const up = planMigrations(diffSchemas(before, shrunk), 'shrink')
      .map((p) => p.up)
      .join('\n');
    const found = lintSql(up, { existingTables: new Set(['users', 'posts']) });
    expect(found.filter((f) => f.severity === 'error')).toEqual([]);
    expect(found.map((f) => f.rule).sort()).toEqual(['ban-drop-table', 'changing-column-type']);
  });
});
