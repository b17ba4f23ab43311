/**
 * Once per `vitest run`: build (or reuse) the PGlite template, build Studio's
 * browser UI when its sources changed, and sweep up what crashed runs left
 * behind. Runs in the main process; workers get the template path through
 * env and `inject`.
 */
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { adminUrl, isTestDatabaseOrphan, TEST_BACKENDS } from './backends-config.js';
import { sweepDeadClusters } from './pg-cluster.js';
import { ensureTemplate, removeDeadTestDirs, TEMPLATE_ENV } from './pglite-template.js';
import { ensureStudioUi } from './studio-ui-build.js';

export default async function setup(project: TestProject): Promise<void> {
  // The Studio browser tests serve dist/studio-ui/; a no-op (a few stat calls) when it is up to date.
  if (await ensureStudioUi()) console.log('[ferry tests] built the Studio UI into dist/studio-ui/');
  if (TEST_BACKENDS.includes('pglite')) {
    const started = performance.now();
    const template = await ensureTemplate();
    const ms = performance.now() - started;
    if (ms > 1000) console.log(`[ferry tests] PGlite template created in ${Math.round(ms)} ms at ${template}`);
    process.env[TEMPLATE_ENV] = template;
    project.provide('ferryPgliteTemplate', template);
    await removeDeadTestDirs().catch(() => {});
  }
  if (TEST_BACKENDS.includes('postgres')) await dropOrphanDatabases().catch(() => {});
  // Primary + replica clusters of test files (pg-cluster.ts) whose process was killed outright.
  sweepDeadClusters();
}

/**
 * Best effort: drop `ferry_t_<pid>_*` databases whose worker process is gone
 * and that nobody is connected to (the second check protects runs on other
 * machines sharing the server, whose pids mean nothing here).
 */
async function dropOrphanDatabases(): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      `select d.datname from pg_database d
       where d.datname like 'ferry\\_t\\_%'
         and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)`,
    );
    for (const { datname } of rows) {
      if (!isTestDatabaseOrphan(datname)) continue;
      await client.query(`drop database if exists "${datname}"`).catch(() => {});
    }
  } finally {
    await client.end();
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    ferryPgliteTemplate: string;
  }
}
