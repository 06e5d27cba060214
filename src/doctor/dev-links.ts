// The Email check on nudge dev's demo database. There email.provider dev
// keeps every email in the dev mailbox, and its unsubscribe and preference
// links point at the server's own address (email/links.ts publicBaseUrl:
// server.public_url unset, the port nudge dev got): the dashboard's, where
// the mailbox opens them. So the Email check's "server.public_url is not
// set" (email/doctor.ts) is a ✓ naming that address there. Anywhere else —
// a real project's database, or an email that Resend or SMTP sends to a real
// inbox, where such a link leads nowhere — it stays the ⚠ it was.
import type { LoadedConfig } from '../config/load.js';
import { isDemoSource } from '../dev/demo.js';
import { linksOpenInDevMailbox } from '../email/doctor.js';
import type { Feature } from '../features/load.js';
import type { Sql } from '../source/connect.js';

/**
 * On nudge dev's demo database, with no server.public_url and every email
 * of the features kept in the dev mailbox: what the address the links lead
 * to is, for the Email check (emailCheck's devMailbox). Else undefined.
 */
export async function devMailboxAddress(
  sql: Sql,
  project: LoadedConfig,
  features: Feature[],
): Promise<string | undefined> {
  if (!linksOpenInDevMailbox(project, features)) return undefined;
  if (!(await isDemoSource(sql, project))) return undefined;
  // In nudge dev's own process the port in the links is the one it got; from
  // another terminal, the one nudge.yaml asks for (nudge dev says when it
  // took another).
  return project.databaseUrlFrom === 'nudge dev'
    ? "nudge dev's own address"
    : "nudge dev's address (unless it said it took another port)";
}
