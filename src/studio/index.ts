/**
 * `ferry/studio`: Ferry Studio's server, to mount under an app's own auth.
 *
 *   import { studio } from 'ferry/studio';
 *   app.use('/studio', requireAdmin, studio(ferry, { allowedHosts: ['admin.example.com'] }));
 *
 * The HTTP contract with the browser UI is in api.ts (types only).
 */
export type * from './api.js';
export type { StudioOptions, StudioTarget } from './context.js';
export * from './errors.js';
export { type Listening, listen } from './listen.js';
export { type StudioHandler, studio } from './server.js';
