/**
 * What `npm install ferry` gives an app: the packed tarball, installed next to
 * the production dependencies only, runs the compiled `dist/` (no src/, no
 * tsx for Ferry's own code), builds no native addon, and names the package to
 * install when a feature needs an optional peer that is not there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E_MISSING_DEPENDENCY } from '../src/errors.js';
import { OPTIONAL_DEPENDENCIES, requireOptional } from '../src/optional-dependency.js';

const root = new URL('../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  allowScripts: Record<string, boolean>;
};
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean; devOptional?: boolean; hasInstallScript?: boolean; peer?: boolean }>;
};

/** Lock entries an app gets with `npm install ferry` (not dev-only). */
function productionPackages(): [string, (typeof lock.packages)[string]][] {
  return Object.entries(lock.packages).filter(([path, entry]) => path !== '' && !entry.dev && !entry.devOptional);
}

describe('package manifest', () => {
  it('every optional peer is optional, not a dependency, and a devDependency for the tests', () => {
    for (const name of Object.keys(OPTIONAL_DEPENDENCIES)) {
      expect(pkg.dependencies[name], name).toBeUndefined();
      expect(pkg.peerDependencies[name], name).toBeDefined();
      expect(pkg.peerDependenciesMeta[name]?.optional, name).toBe(true);
    }
  });

  it('no production dependency builds a native addon, and every install script is reviewed', () => {
    const production = productionPackages();
    expect(production.length).toBeGreaterThan(10);
    for (const [path, entry] of production) {
      const dir = join(root, path);
      if (!existsSync(dir)) continue; // an optional dependency for another platform
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { gypfile?: boolean };
      expect(existsSync(join(dir, 'binding.gyp')) || manifest.gypfile === true, `${path} builds a native addon`).toBe(
        false,
      );
      // An install script nobody looked at would print npm's allowScripts warning on a fresh install.
      if (entry.hasInstallScript) {
        const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
        expect(Object.hasOwn(pkg.allowScripts, name), `${name}'s install script is not in allowScripts`).toBe(true);
      }
    }
  });

  it('requireOptional names the package and the install command when it is missing', () => {
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'ferry-noreq-')), 'x.js');
    try {
      requireOptional('better-sqlite3', elsewhere);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: E_MISSING_DEPENDENCY, details: { package: 'better-sqlite3' } });
      expect((err as Error).message).toContain('npm install better-sqlite3');
    }
    expect(requireOptional('csv-parse')).toHaveProperty('parse');
  });
});

describe('the packed package in an app', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'ferry-pack-'));
  const app = join(scratch, 'app');
  const installed = join(app, 'node_modules', 'ferry');
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  beforeAll(() => {
    // `npm pack` runs `prepack` (the build), as publishing does.
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tarball = join(scratch, (JSON.parse(out.slice(out.indexOf('['))) as { filename: string }[])[0]!.filename);
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    // The production dependencies only, as npm would lay them out; the optional peers are left out.
    for (const name of Object.keys(pkg.dependencies)) {
      const link = join(app, 'node_modules', name);
      mkdirSync(join(link, '..'), { recursive: true });
      symlinkSync(join(root, 'node_modules', name), link, 'dir');
    }
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
  }, 120_000);

  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, args, {
      cwd: app,
      env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: join(scratch, 'data') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: r.stdout + r.stderr };
  };

  it('ships dist and no TypeScript sources; the bin runs dist', () => {
    expect(existsSync(join(installed, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(installed, 'src'))).toBe(false);
    const r = run([join(installed, 'bin', 'ferry.mjs'), '--version']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('ships the Studio UI, built, referencing nothing outside the package (it must work with no network)', () => {
    const ui = join(installed, 'dist', 'studio-ui');
    const html = readFileSync(join(ui, 'index.html'), 'utf8');
    const assets = readdirSync(join(ui, 'assets'));
    expect(assets.some((f) => f.endsWith('.js'))).toBe(true);
    for (const file of [html, ...assets.map((f) => readFileSync(join(ui, 'assets', f), 'utf8'))]) {
      // XML namespace names are identifiers, never fetched.
      const urls = (file.match(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi) ?? []).filter(
        (u) => !/^http:\/\/www\.w3\.org\//.test(u),
      );
      expect(urls).toEqual([]);
    }
    expect(html).toMatch(/src="\.\/assets\/[^"]+\.js"/);
  });

  it("loads the user's TypeScript config and schema (tsx) from an app importing 'ferry'", () => {
    writeFileSync(join(app, 'ferry.config.ts'), "export default { schema: './schema.ts' };\n");
    writeFileSync(
      join(app, 'schema.ts'),
      "import { table, serial, text } from 'ferry';\nexport const notes = table('notes', { id: serial().primaryKey(), body: text().notNull() });\n",
    );
    const r = run([join(installed, 'bin', 'ferry.mjs'), 'schema', 'sql']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/CREATE TABLE "?notes"?/i);
  });

  it('works without the optional peers until a feature needs one, then names the package to install', () => {
    const script = join(app, 'features.mjs');
    writeFileSync(
      script,
      `import * as ferry from 'ferry';
import { sqlite, csv } from 'ferry/import';
import { createRateLimiter } from 'ferry/rate-limit';
import { createSessionStore } from 'ferry/sessions';
import * as viaCache from 'ferry/cache';
const out = {
  root: typeof ferry.table === 'function',
  entries: typeof createSessionStore === 'function' && viaCache.createRateLimiter === createRateLimiter,
};
for (const [name, use] of [
  ['sqlite', () => sqlite('./x.db', { table: 't' })],
  ['csv', () => csv('./x.csv')],
  ['rateLimiter', () => createRateLimiter({ redis: null, points: 1, duration: '1s' })],
]) {
  try { use(); out[name] = 'no error'; } catch (err) { out[name] = { code: err.code, message: err.message }; }
}
console.log(JSON.stringify(out));
`,
    );
    const r = run([script]);
    expect(r.code, r.all).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, { code: string; message: string }>;
    expect(out.root).toBe(true);
    expect(out.entries).toBe(true);
    for (const [feature, name] of [
      ['sqlite', 'better-sqlite3'],
      ['csv', 'csv-parse'],
      ['rateLimiter', 'rate-limiter-flexible'],
    ] as const) {
      expect(out[feature]).toMatchObject({ code: E_MISSING_DEPENDENCY });
      expect(out[feature]!.message).toContain(`npm install ${name}`);
    }
  });
  it("importing 'ferry' loads neither a Redis client nor a native addon", () => {
    // A second app whose node_modules lacks ioredis (and the optional peers):
    // 'ferry' and 'ferry/migrate' must load; 'ferry/cache' must not (proving the check can fail).
    const lean = join(scratch, 'lean');
    cpSync(installed, join(lean, 'node_modules', 'ferry'), { recursive: true });
    for (const name of Object.keys(pkg.dependencies).filter((n) => n !== 'ioredis')) {
      const link = join(lean, 'node_modules', name);
      mkdirSync(join(link, '..'), { recursive: true });
      symlinkSync(join(root, 'node_modules', name), link, 'dir');
    }
    writeFileSync(join(lean, 'package.json'), JSON.stringify({ name: 'lean', type: 'module', private: true }));
    const script = join(lean, 'entries.mjs');
    writeFileSync(
      script,
      `const out = {};
for (const entry of ['ferry', 'ferry/migrate', 'ferry/import', 'ferry/cache']) {
  try { const m = await import(entry); out[entry] = Object.keys(m).length; } catch (err) { out[entry] = err.code ?? err.message; }
}
console.log(JSON.stringify(out));
`,
    );
    const r = spawnSync(process.execPath, [script], { cwd: lean, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, number | string>;
    expect(out.ferry).toBeGreaterThan(20);
    expect(out['ferry/migrate']).toBeGreaterThan(5);
    expect(out['ferry/cache']).toBe('ERR_MODULE_NOT_FOUND');
  });
});
