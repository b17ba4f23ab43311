import { defineConfig } from '../../src/index.js';

export default defineConfig({ schema: './schema.ts', migrations: './migrations' });
