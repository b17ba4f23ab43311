import type { DbHandle } from '../../src/db/open.js';
import type { RawSession } from '../../src/db/session.js';

export interface SessionHooks {
  /** Run in-session before each query (it may itself query the session). */
  query?: (session: RawSession, sql: string, params?: readonly unknown[]) => Promise<void>;
  /** Called with each COPY statement before it is sent. */
  copyIn?: (sql: string) => void;
}

/** The handle, with every statement its sessions send passed to `hooks` first. */
export function watchSessions(db: DbHandle, hooks: SessionHooks): DbHandle {
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== 'session') return Reflect.get(target, prop);
      return <T>(fn: (s: RawSession) => Promise<T>) =>
        target.session((s) =>
          fn({
            backend: s.backend,
            copyIn(text, payload, around) {
              hooks.copyIn?.(text);
              return s.copyIn(text, payload, around);
            },
            queryText(text) {
              return s.queryText(text);
            },
            copyOut(text, onData) {
              return s.copyOut(text, onData);
            },
            async query(text, params) {
              await hooks.query?.(s, text, params);
              return s.query(text, params);
            },
          }),
        );
    },
  });
}
