import pino, { type Logger } from 'pino';

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
 * `info`) that redacts secret-bearing fields and scrubs the given secret
 * strings from messages, so a connection password cannot leak through a log.
 */
export function createLogger(
  options: { level?: string; secrets?: string[]; destination?: pino.DestinationStream } = {},
): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length > 0);
  const scrub = (value: unknown): unknown => {
    if (typeof value !== 'string' || secrets.length === 0) return value;
    let out = value;
    for (const s of secrets) out = out.split(s).join('****');
    return out;
  };
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
