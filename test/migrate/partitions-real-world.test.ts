/**
 * Partitioned tables in the real-world round trip (scripts/real-world-lib.ts):
 * a small `pg_dump --schema-only` of range (MINVALUE, default), list, hash
 * sub-partitions, indexes and keys on partitioned parents (pg_dump writes
 * them `ON ONLY` the parent, each partition's copy apart, then `ATTACH
 * PARTITION`) goes through pull -> new (from empty) -> up, and `pg_dump` of
 * the result equals it: no difference at all, by design or not. PostgreSQL
 * only, like the real-world test.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropAll, printReport, roundTrip } from '../../scripts/real-world-lib.js';
import { TEST_BACKENDS } from '../support/backends.js';

/**
 * As pg_dump printed it (comments, blank lines and psql meta-commands left
 * out; `search_path` is set empty, as pg_dump does, in the line it drops) for
 * a database made with CREATE TABLE … PARTITION OF / PARTITION BY and
 * CREATE INDEX on the parents.
 */
const DUMP = `SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SELECT pg_catalog.set_config('search_path', '', false);
SET row_security = off;
SET default_tablespace = '';
SET default_table_access_method = heap;
CREATE TABLE public.accounts (
    id bigint NOT NULL,
    name text NOT NULL
);
CREATE TABLE public.events (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    account_id bigint,
    kind text DEFAULT 'misc'::text NOT NULL,
    CONSTRAINT events_kind_check CHECK ((kind <> ''::text))
)
PARTITION BY RANGE (at);
COMMENT ON TABLE public.events IS 'append-only';
CREATE TABLE public.events_2026_01 (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    account_id bigint,
    kind text DEFAULT 'misc'::text NOT NULL,
    CONSTRAINT events_kind_check CHECK ((kind <> ''::text))
);
CREATE TABLE public.events_old (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    account_id bigint,
    kind text DEFAULT 'misc'::text NOT NULL,
    CONSTRAINT events_kind_check CHECK ((kind <> ''::text))
);
CREATE TABLE public.events_rest (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    account_id bigint,
    kind text DEFAULT 'misc'::text NOT NULL,
    CONSTRAINT events_kind_check CHECK ((kind <> ''::text))
);
CREATE TABLE public.regions (
    code text NOT NULL,
    n integer
)
PARTITION BY LIST (code);
CREATE TABLE public.regions_eu (
    code text NOT NULL,
    n integer
)
PARTITION BY HASH (n);
CREATE TABLE public.regions_eu_0 (
    code text NOT NULL,
    n integer
);
CREATE TABLE public.regions_eu_1 (
    code text NOT NULL,
    n integer
);
CREATE TABLE public.regions_other (
    code text NOT NULL,
    n integer
);
ALTER TABLE ONLY public.events ATTACH PARTITION public.events_2026_01 FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00');
ALTER TABLE ONLY public.events ATTACH PARTITION public.events_old FOR VALUES FROM (MINVALUE) TO ('2026-01-01 00:00:00+00');
ALTER TABLE ONLY public.events ATTACH PARTITION public.events_rest DEFAULT;
ALTER TABLE ONLY public.regions ATTACH PARTITION public.regions_eu FOR VALUES IN ('de', 'fr');
ALTER TABLE ONLY public.regions_eu ATTACH PARTITION public.regions_eu_0 FOR VALUES WITH (modulus 2, remainder 0);
ALTER TABLE ONLY public.regions_eu ATTACH PARTITION public.regions_eu_1 FOR VALUES WITH (modulus 2, remainder 1);
ALTER TABLE ONLY public.regions ATTACH PARTITION public.regions_other DEFAULT;
ALTER TABLE ONLY public.accounts
    ADD CONSTRAINT accounts_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id, at);
ALTER TABLE ONLY public.events_2026_01
    ADD CONSTRAINT events_2026_01_pkey PRIMARY KEY (id, at);
ALTER TABLE ONLY public.events_old
    ADD CONSTRAINT events_old_pkey PRIMARY KEY (id, at);
ALTER TABLE ONLY public.events_rest
    ADD CONSTRAINT events_rest_pkey PRIMARY KEY (id, at);
CREATE INDEX events_account_at_idx ON ONLY public.events USING btree (account_id, at DESC);
CREATE INDEX events_2026_01_account_id_at_idx ON public.events_2026_01 USING btree (account_id, at DESC);
CREATE INDEX events_kind_idx ON ONLY public.events USING btree (kind);
CREATE INDEX events_2026_01_kind_idx ON public.events_2026_01 USING btree (kind);
CREATE INDEX events_old_account_id_at_idx ON public.events_old USING btree (account_id, at DESC);
CREATE INDEX events_old_kind_idx ON public.events_old USING btree (kind);
CREATE INDEX events_rest_account_id_at_idx ON public.events_rest USING btree (account_id, at DESC);
CREATE INDEX events_rest_kind_idx ON public.events_rest USING btree (kind);
CREATE UNIQUE INDEX regions_code_n_key ON ONLY public.regions USING btree (code, n);
CREATE UNIQUE INDEX regions_eu_code_n_idx ON ONLY public.regions_eu USING btree (code, n);
CREATE UNIQUE INDEX regions_eu_0_code_n_idx ON public.regions_eu_0 USING btree (code, n);
CREATE UNIQUE INDEX regions_eu_1_code_n_idx ON public.regions_eu_1 USING btree (code, n);
CREATE UNIQUE INDEX regions_other_code_n_idx ON public.regions_other USING btree (code, n);
ALTER INDEX public.events_account_at_idx ATTACH PARTITION public.events_2026_01_account_id_at_idx;
ALTER INDEX public.events_kind_idx ATTACH PARTITION public.events_2026_01_kind_idx;
ALTER INDEX public.events_pkey ATTACH PARTITION public.events_2026_01_pkey;
ALTER INDEX public.events_account_at_idx ATTACH PARTITION public.events_old_account_id_at_idx;
ALTER INDEX public.events_kind_idx ATTACH PARTITION public.events_old_kind_idx;
ALTER INDEX public.events_pkey ATTACH PARTITION public.events_old_pkey;
ALTER INDEX public.events_account_at_idx ATTACH PARTITION public.events_rest_account_id_at_idx;
ALTER INDEX public.events_kind_idx ATTACH PARTITION public.events_rest_kind_idx;
ALTER INDEX public.events_pkey ATTACH PARTITION public.events_rest_pkey;
ALTER INDEX public.regions_eu_code_n_idx ATTACH PARTITION public.regions_eu_0_code_n_idx;
ALTER INDEX public.regions_eu_code_n_idx ATTACH PARTITION public.regions_eu_1_code_n_idx;
ALTER INDEX public.regions_code_n_key ATTACH PARTITION public.regions_eu_code_n_idx;
ALTER INDEX public.regions_code_n_key ATTACH PARTITION public.regions_other_code_n_idx;
ALTER TABLE public.events
    ADD CONSTRAINT events_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);
`;

const dir = mkdtempSync(join(tmpdir(), 'ferry-part-rw-'));
afterAll(async () => {
  await dropAll();
  rmSync(dir, { recursive: true, force: true });
});

describe.runIf(TEST_BACKENDS.includes('postgres'))('partitioned pg_dump round trip [postgres]', () => {
  it('pull -> new -> up -> pg_dump equals the dump: range/list/hash, sub-partitions, defaults, indexes and keys on parents', async () => {
    const file = join(dir, 'partitioned.sql');
    writeFileSync(file, DUMP);
    const report = await roundTrip(file, { outRoot: join(dir, 'out'), promoteFkIndexes: false });
    if (report.failure || (report.dumpDiffs ?? []).length > 0) printReport(report);
    expect(report.failure, `${report.failure?.stage}: ${report.failure?.message}`).toBeUndefined();
    expect(report.counts).toMatchObject({ tables: 3 });
    expect(report.stages['dump-compare']).toBe('ok');
    // B really has them: the partitions attached, their index copies attached to the parents' indexes.
    const dumpB = readFileSync(join(dir, 'out', 'partitioned', 'dump-b.sql'), 'utf8');
    expect(dumpB).toContain(
      'ALTER TABLE ONLY public.regions_eu ATTACH PARTITION public.regions_eu_0 FOR VALUES WITH (modulus 2, remainder 0);',
    );
    expect(dumpB).toContain('ALTER INDEX public.regions_code_n_key ATTACH PARTITION public.regions_eu_code_n_idx;');
    expect(report.irDiffs).toEqual([]);
    expect(report.rediff).toEqual([]);
    // Every entry, TABLE ATTACH and INDEX ATTACH included, is the same: nothing left out by design.
    expect((report.dumpDiffs ?? []).map((d) => `${d.side} ${d.type} ${d.name}: ${d.kind}`)).toEqual([]);
  }, 300_000);
});
