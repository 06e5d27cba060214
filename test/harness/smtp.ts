// A real SMTP server for tests (smtp-server on 127.0.0.1): records every
// message it accepts, with its envelope and headers, requires the login it
// was given, and can be told to answer the next messages with an SMTP error.
//
//   const smtp = await startSmtpServer({ user: 'nudge', password: 'pw' });
//   smtp.failNext(1, 451, 'try again later');    // transient: the sender retries
//   smtp.failNext(1, 550, 'no such user');       // permanent
//   ... point email.smtp.url at smtp.url ...
//   const mail = await smtp.waitFor((m) => m.to.includes('ada@example.com'));
//   await smtp.close();
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** Header names lower-cased, folded lines joined. */
  headers: Record<string, string>;
  /** The whole message as received (headers and body). */
  raw: string;
  user?: string;
}

export interface SmtpRecorder {
  /** smtp://user:password@127.0.0.1:port */
  url: string;
  /** Messages accepted. */
  messages: ReceivedMail[];
  /** Messages answered with a scripted error, as received. */
  rejected: ReceivedMail[];
  /** Every DATA received, accepted or answered with a scripted error. */
  attempts: number;
  failNext(count: number, code: number, message?: string): void;
  waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export async function startSmtpServer(
  login: { user: string; password: string } = { user: 'nudge', password: 'smtp-password' },
): Promise<SmtpRecorder> {
  const messages: ReceivedMail[] = [];
  const rejected: ReceivedMail[] = [];
  const failures: { code: number; message: string }[] = [];
  const waiters = new Set<(mail: ReceivedMail) => void>();
  const recorder = { attempts: 0 };

  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === login.user && auth.password === login.password) {
        callback(null, { user: auth.username });
      } else {
        callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      }
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        recorder.attempts++;
        const raw = Buffer.concat(chunks).toString('utf8');
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          headers: parseHeaders(raw),
          raw,
          ...(session.user ? { user: String(session.user) } : {}),
        };
        const failure = failures.shift();
        if (failure) {
          rejected.push(mail);
          callback(Object.assign(new Error(failure.message), { responseCode: failure.code }));
          return;
        }
        messages.push(mail);
        for (const waiter of waiters) waiter(mail);
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}@127.0.0.1:${port}`,
    messages,
    rejected,
    get attempts() {
      return recorder.attempts;
    },
    failNext(count, code, message = `scripted ${code}`) {
      for (let i = 0; i < count; i++) failures.push({ code, message });
    },
    waitFor(predicate, timeoutMs = 5000) {
      const seen = messages.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = (mail: ReceivedMail) => {
          if (!predicate(mail)) return;
          cleanup();
          resolve(mail);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`no matching message within ${timeoutMs}ms (${messages.length} received)`),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        waiters.add(waiter);
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function parseHeaders(raw: string): Record<string, string> {
  const end = raw.search(/\r?\n\r?\n/);
  const block = (end === -1 ? raw : raw.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
