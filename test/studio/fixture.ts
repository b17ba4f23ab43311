/**
 * Studio over real HTTP: a `node:http` server on port 0 serving `studio()`
 * for a suite's database, and `call()`, a request with full control of the
 * headers (Host and Origin included, which fetch() would set itself).
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { DbHandle } from '../../src/db/open.js';
import { createStatements } from '../../src/schema/ddl.js';
import {
  bigint,
  boolean,
  bytea,
  date,
  integer,
  jsonb,
  numeric,
  serial,
  table,
  text,
  timestamptz,
  varchar,
} from '../../src/schema/index.js';
import { defineSchema } from '../../src/schema/schema.js';
import { type StudioHandler, type StudioOptions, studio } from '../../src/studio/server.js';

export const authors = table('authors', {
  id: serial().primaryKey(),
  name: varchar(40).notNull(),
  email: text(),
  password_hash: text().sensitive(),
  born: date(),
  created_at: timestamptz().notNull().defaultNow(),
  meta: jsonb<unknown>(),
  tags: text().array(),
  score: numeric(10, 2),
  big: bigint(),
  avatar: bytea(),
  active: boolean().notNull().default(true),
});

export const books = table('books', {
  id: serial().primaryKey(),
  author_id: integer()
    .notNull()
    .references(() => authors.columns.id),
  title: text().notNull(),
  pages: integer(),
});

export const model = { authors, books };
export const schema = defineSchema(model);

/** The model's tables, created with the DDL Ferry would generate. */
export async function createModel(handle: DbHandle): Promise<void> {
  for (const statement of createStatements(schema.toIR())) await sql.raw(statement).execute(handle.db);
}

export interface Served {
  handler: StudioHandler;
  port: number;
  host: string;
  close(): Promise<void>;
}

export async function serve(handle: DbHandle, options: StudioOptions = {}): Promise<Served> {
  const handler = studio(handle, { schema, ...options });
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    handler,
    port,
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Answer<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Send `body` as is (a string) instead of JSON. */
  raw?: boolean;
}

/** One request to `served`; JSON bodies are parsed. */
export function call<T = any>(
  served: Served,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const payload =
    options.body === undefined ? undefined : options.raw ? String(options.body) : JSON.stringify(options.body);
  const headers: Record<string, string> = {
    host: served.host,
    ...(payload !== undefined && !options.raw ? { 'content-type': 'application/json' } : {}),
    // Node sends a DELETE's body without chunking: it needs its length.
    ...(payload !== undefined ? { 'content-length': String(Buffer.byteLength(payload)) } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: served.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        if (String(res.headers['content-type'] ?? '').startsWith('application/json')) body = JSON.parse(text);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T, text });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** `?filter=` etc.: JSON, URL-encoded. */
export const q = (value: unknown) => encodeURIComponent(JSON.stringify(value));
