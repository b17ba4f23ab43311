/** The linter's `trigger-on-existing-table` rule (issue 17: a trigger on a table already in use). */
import { describe, expect, it } from 'vitest';
import { type LintContext, lintSql } from '../../src/migrate/lint.js';

const EXISTING: LintContext = { existingTables: new Set(['posts', 'orders']) };

describe('trigger-on-existing-table', () => {
  it('warns on CREATE [OR REPLACE] [CONSTRAINT] TRIGGER on a table that existed before, naming it and per row', () => {
    const [f] = lintSql(
      'CREATE TRIGGER posts_touch BEFORE UPDATE OF title, body ON posts FOR EACH ROW EXECUTE FUNCTION touch();',
      EXISTING,
    );
    expect(f).toMatchObject({ rule: 'trigger-on-existing-table', severity: 'warning', line: 1 });
    expect(f!.message).toContain('Trigger posts_touch on table posts');
    expect(f!.message).toContain('once per row');
    expect(f!.hint).toMatch(/lock_timeout/);
    const statement = lintSql(
      'create or replace trigger orders_audit after insert on public.orders for each statement execute function audit();',
      EXISTING,
    );
    expect(statement.map((x) => x.rule)).toEqual(['trigger-on-existing-table']);
    expect(statement[0]!.message).not.toContain('once per row');
    const constraint = lintSql(
      'CREATE CONSTRAINT TRIGGER orders_check AFTER INSERT ON orders DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION f();',
      EXISTING,
    );
    expect(constraint.map((x) => x.rule)).toEqual(['trigger-on-existing-table']);
  });

  it('is silent on a table created in the same file and on one that does not exist yet', () => {
    const sql = [
      'CREATE TABLE jobs (id bigint PRIMARY KEY, tags jsonb);',
      'CREATE TRIGGER jobs_touch BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION touch();',
      'CREATE TRIGGER v_insert INSTEAD OF INSERT ON some_view FOR EACH ROW EXECUTE FUNCTION f();',
    ].join('\n');
    expect(lintSql(sql, EXISTING)).toEqual([]);
  });
});
