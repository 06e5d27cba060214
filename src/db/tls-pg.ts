// The same TLS rules (tls.ts) for node-postgres, the client graphile-worker
// runs the job queue on, and the question both clients' `prefer` turns on:
// does the server offer TLS?
//
// node-postgres has no `prefer`: with `ssl` set it requires TLS, without it
// it sends nothing encrypted, and its own reading of a URL's sslmode is not
// libpq's (require verifies the certificate unless told otherwise). So the
// TLS parameters are taken out of the URL it gets and `ssl` is given
// explicitly; for `prefer` the server is asked once, with the SSLRequest
// message every PostgreSQL client sends first ('S': it will do TLS; 'N': it
// will not), and the pool then encrypts exactly when postgres.js does.
import { connect } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { endpointsOf, type Tls, type TlsInputs, tlsFor, withoutParams } from './tls.js';

/** node-postgres's connection options for `url`: `ssl` as postgres.js would connect. */
export async function pgConnection(
  url: string,
  inputs: TlsInputs & { offersTls?: () => Promise<boolean> } = {},
): Promise<{ connectionString: string; ssl: false | ConnectionOptions }> {
  const tls = tlsFor(url, inputs);
  // node-postgres reads these its own way, and over an explicit `ssl`.
  const connectionString = withoutParams(tls.url, ['ssl', 'sslmode', 'uselibpqcompat']);
  return { connectionString, ssl: await pgSsl(tls, url, inputs) };
}

async function pgSsl(
  tls: Tls,
  url: string,
  inputs: TlsInputs & { offersTls?: () => Promise<boolean> },
): Promise<false | ConnectionOptions> {
  if (tls.ssl === false) return false;
  if (tls.ssl === 'require') return { rejectUnauthorized: false };
  if (tls.ssl === 'prefer') {
    const offers = await (inputs.offersTls ?? (() => serverOffersTls(url, inputs.env)))();
    return offers ? { rejectUnauthorized: false } : false;
  }
  return tls.ssl;
}

/** SSLRequest: length 8, then the code 1234 5679. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * Whether the server at the URL's first host answers an SSLRequest with 'S'.
 * Rejects when it cannot be reached or does not answer within `timeoutMs`.
 */
export function serverOffersTls(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 10_000,
): Promise<boolean> {
  const [first] = endpointsOf(url, env);
  if (!first || first.host.startsWith('/')) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: first.host, port: first.port });
    const done = (error: Error | undefined, offers = false) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(offers);
    };
    socket.setTimeout(timeoutMs, () =>
      done(
        Object.assign(
          new Error(`no answer from ${first.host}:${first.port} in ${timeoutMs / 1000} s`),
          {
            code: 'CONNECT_TIMEOUT',
          },
        ),
      ),
    );
    socket.once('connect', () => socket.write(SSL_REQUEST));
    socket.once('data', (answer) => done(undefined, answer[0] === 0x53));
    socket.once('error', (error) => done(error));
    socket.once('end', () => done(new Error(`${first.host}:${first.port} closed the connection`)));
  });
}
