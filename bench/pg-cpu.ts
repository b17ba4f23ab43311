/**
 * CPU the local Postgres server spent between two readings, from /proc: the
 * user + system time of every live `postgres` process, plus what each
 * postmaster has collected from backends that already exited (cutime +
 * cstime). A backend that exits between the readings moves its time from the
 * first sum to the second, so the difference is exact for work that happened
 * in between, whichever connections did it.
 *
 * Why: on a 2-core machine an import is bound by (Node CPU + Postgres CPU) / 2
 * as much as by either alone, and the bench states the physical limit with
 * both figures measured in the same run.
 *
 * It counts every Postgres process on the machine (other clusters too, and
 * autovacuum): run the bench on a machine not otherwise busy with Postgres.
 * On a system without /proc it returns undefined, and the bench leaves the
 * columns empty.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ): 100 on Linux, whatever the kernel's HZ. */
const TICKS_PER_SECOND = 100;

export function postgresCpuMs(): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone since the listing
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    if (comm !== 'postgres') continue;
    const f = stat.slice(close + 2).split(' ');
    // Fields 14-17 of stat (utime stime cutime cstime) are 11-14 here, counted from state = 0.
    const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]].map(Number) as [number, number, number, number];
    // Children's times are non-zero only for a postmaster (it reaps the backends).
    ticks += utime + stime + cutime + cstime;
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** Run `fn` and return its result with the Postgres CPU it caused (undefined without /proc). */
export async function withPostgresCpu<T>(fn: () => Promise<T>): Promise<{ result: T; pgCpuMs: number | undefined }> {
  const before = postgresCpuMs();
  const result = await fn();
  const after = postgresCpuMs();
  return { result, pgCpuMs: before !== undefined && after !== undefined ? after - before : undefined };
}
