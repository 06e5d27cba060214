// The Database section's Encryption line: whether the connection to the
// source is encrypted (TLS version and cipher as the server reports them),
// and whether the server's certificate is checked, with the fix when not.
//
// Our side decides: a mode that requires TLS (require, verify-*) connected
// with it or not at all; `prefer` got it exactly when the server answered
// the SSLRequest with yes, which is asked again here. pg_stat_ssl is the
// server's view of its session, the same thing on a direct connection; behind
// a pooler it describes the pooler's connection to the server instead.
import { SUPABASE_CA_HINT, type Tls, tlsFor } from '../db/tls.js';
import { serverOffersTls } from '../db/tls-pg.js';
import type { Sql } from '../source/connect.js';
import type { Outcome } from '../source/supabase-http.js';
import type { Say } from './checks.js';

const LABEL = 'Encryption';
const VERIFY = 'sslmode=verify-full&sslrootcert=<the CA file>';

export interface Session {
  ssl: boolean;
  version: string | null;
  cipher: string | null;
}

/** Says whether the session `sql` holds to `url` is encrypted and verified. Never throws. */
export async function encryptionCheck(sql: Sql, url: string, say: Say): Promise<void> {
  try {
    const tls = tlsFor(url);
    const [session] = await sql<Session[]>`
      select ssl, version, cipher from pg_stat_ssl where pid = pg_backend_pid()`.catch(() => []);
    const encrypted =
      tls.ssl === false
        ? false
        : tls.ssl === 'prefer'
          ? await serverOffersTls(url).catch(() => session?.ssl === true)
          : true;
    const { outcome, message, fix } = encryptionFinding(tls, encrypted, session);
    say(outcome, LABEL, message, fix);
  } catch (error) {
    say('warn', LABEL, `cannot tell: ${(error as Error).message}`);
  }
}

export interface Finding {
  outcome: Outcome;
  message: string;
  fix?: string;
}

/** The line for a connection made with `tls`: `encrypted` on our side; `session` as pg_stat_ssl shows it. */
export function encryptionFinding(tls: Tls, encrypted: boolean, session?: Session): Finding {
  return encrypted ? encryptedLine(tls, session) : plainLine(tls);
}

function encryptedLine(tls: Tls, session: Session | undefined): Finding {
  const how =
    session?.ssl && session.version
      ? `${session.version}${session.cipher ? ` (${session.cipher})` : ''}`
      : session && !session.ssl
        ? `encrypted as far as a pooler (sslmode=${tls.mode}); the server reports the pooler's own connection unencrypted`
        : `encrypted (sslmode=${tls.mode})`;
  if (tls.verify?.hostName) {
    const message = `${how}; the server's certificate and host name are verified against ${tls.verify.ca}`;
    return { outcome: 'ok', message };
  }
  if (tls.verify) {
    const message = `${how}; the server's certificate is verified against ${tls.verify.ca}, its host name is not (sslmode=verify-ca)`;
    return { outcome: 'ok', message };
  }
  const message = `${how}; the server's certificate is not verified`;
  return { outcome: 'warn', message, fix: `set ${VERIFY} in the database URL (${caWhere(tls)})` };
}

function plainLine(tls: Tls): Finding {
  if (tls.local) {
    const where = tls.why.startsWith('a Unix socket') ? 'a Unix socket' : 'a loopback host';
    return { outcome: 'ok', message: `not encrypted (${where}: nothing leaves this machine)` };
  }
  if (tls.mode === 'disable') {
    const instead = tls.why.replace(/ in the URL$/, '');
    const fix = `set ${VERIFY} in the database URL, in place of ${instead} (${caWhere(tls)})`;
    return { outcome: 'warn', message: `not encrypted (${tls.why})`, fix };
  }
  const said = tls.why.includes('=') ? tls.why : `sslmode=prefer, ${tls.why}`;
  return {
    outcome: 'warn',
    message: `not encrypted: the server does not offer TLS (${said})`,
    fix: `turn TLS on in the server (ssl = on, with a certificate), then set ${VERIFY} in the database URL`,
  };
}

function caWhere(tls: Tls): string {
  return tls.supabase
    ? SUPABASE_CA_HINT
    : "the CA that signed the server's certificate; sslrootcert=system for one publicly trusted";
}
