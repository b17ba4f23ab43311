/**
 * `npm run demo`: Ferry's main job on the embedded database, no server
 * needed. For now it runs the Hello Bot example; the legacy-import demo
 * replaces it when the importer lands.
 */
import { runHelloBot } from './hello-bot/demo.js';

const result = await runHelloBot();
console.log(`done: ${result.total} users in the database`);
