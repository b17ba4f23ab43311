/**
 * Builds Ferry Studio's browser UI into dist/studio-ui/ (`npm run build:studio`).
 * `base: './'` makes every asset URL relative, so the same build works
 * wherever an app mounts Studio (`/`, `/studio/`, ...). Nothing external is
 * referenced: no CDN, no web font, so it works with no network.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/studio-ui/', import.meta.url)),
    emptyOutDir: true,
    // No inline <script> and no data: URLs for assets, so the server can send a strict CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
