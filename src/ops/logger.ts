import pino, { type Logger } from 'pino';
import { redactText } from '../db/redact.js';

export type { Logger };

/** Field names whose values never reach a log line. */
const REDACT_PATHS = [
  'password',
  '*.password',
  'connectionString',
  '*.connectionString',
  'url',
  '*.url',
  'headers.authorization',
  '*.headers.authorization',
];

/**
 * A pino logger (JSON lines on stderr, level from `FERRY_LOG_LEVEL`, default
 * `info`) that redacts secret-bearing fields and scrubs messages with
 * `redactText` (URL passwords and `password=` keywords; `secrets` only when
 * long enough to be unambiguous, see there), so a connection password cannot
 * leak through a log and a short one does not mangle every word holding it.
 */
export function createLogger(
  options: { level?: string; secrets?: string[]; destination?: pino.DestinationStream } = {},
): Logger {
  const secrets = options.secrets ?? [];
  const scrub = (value: unknown): unknown => (typeof value === 'string' ? redactText(value, secrets) : value);
  return pino(
    {
      level: options.level ?? process.env.FERRY_LOG_LEVEL ?? 'info',
      base: { app: 'ferry' },
      redact: { paths: REDACT_PATHS, censor: '****' },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map(scrub) as Parameters<typeof method>);
        },
      },
      formatters: {
        log: (obj) => {
          const err = obj.err as Error | undefined;
          if (err instanceof Error) {
            return {
              ...obj,
              err: { type: err.name, message: scrub(err.message), code: (err as { code?: unknown }).code },
            };
          }
          return obj;
        },
      },
    },
    options.destination ?? pino.destination(2),
  );
}
