// A session advisory lock held for as long as its holder needs it (a sync's
// run, a nudge dev's life), past any transaction: taken on a pool of its own
// of one connection that never idles out or ages out, and let go by ending
// that pool (ending the session releases the lock).
//
// Not a connection reserved from a pool (sql.reserve()): in postgres.js 3.4.9
// a statement on a reserved connection the server has dropped throws where
// nothing can catch it (porsager/postgres#1208), and the process ends. A
// dropped lock connection loses the lock (the server releases it); its
// holder goes on.
import { type LockName, lockKey } from './locks.js';
import { postgresFor } from './tls.js';

export interface HeldLock {
  /** Lets the lock go: ends its session. */
  release(): Promise<void>;
}

/**
 * Takes `lock` (with hashtext(`second`) as its second key, when given) in a
 * session of its own on `url`: the held lock, or undefined when another
 * session holds it.
 */
export async function holdSessionLock(
  url: string,
  lock: LockName,
  options: { second?: string; applicationName: string },
): Promise<HeldLock | undefined> {
  const session = postgresFor(url, {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    onnotice: () => {},
    connection: { application_name: options.applicationName },
  });
  const release = () => session.end({ timeout: 5 });
  let held = false;
  try {
    const key = session.unsafe(lockKey(lock));
    const [row] =
      options.second === undefined
        ? await session<{ held: boolean }[]>`select pg_try_advisory_lock(${key}) as held`
        : await session<{ held: boolean }[]>`
            select pg_try_advisory_lock(${key}, hashtext(${options.second})) as held`;
    held = row?.held === true;
  } finally {
    if (!held) await release();
  }
  return held ? { release } : undefined;
}
