// A database named as nudge dev's demo (nudge_demo) on the test server: what
// a command run from another terminal, with the URL nudge dev printed, finds.
// The name is one for the whole server, so one test file at a time has it: an
// advisory lock, held by the session that makes and drops it.
import postgres from 'postgres';
import { DEMO_DATABASE } from '../../src/dev/demo.js';
import { serverUrl } from '../harness/db.js';

/** An advisory lock key of its own: the tests' demo database is made and dropped under it. */
const DEMO_NAME_LOCK = 7_372_010_451;

/** Runs `fn` with the URL of a new, empty database named nudge_demo, dropped after. */
export async function withDemoNamedDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const admin = postgres(serverUrl(), { onnotice: () => {}, max: 1 });
  try {
    await admin`select pg_advisory_lock(${DEMO_NAME_LOCK})`;
    await admin.unsafe(`DROP DATABASE IF EXISTS ${DEMO_DATABASE} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${DEMO_DATABASE}`);
    try {
      return await fn(serverUrl(DEMO_DATABASE));
    } finally {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${DEMO_DATABASE} WITH (FORCE)`);
    }
  } finally {
    // Its session's end releases the lock.
    await admin.end();
  }
}
