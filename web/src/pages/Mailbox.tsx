// Mailbox: what the dev email provider "sent" — newest first; the chosen
// email with its headers, its HTML in a sandboxed frame (no scripts, no
// access to the dashboard, no remote images) and its text. One chosen is
// scrolled into view, which on a phone, where it is below the whole list, moves the page.
// Its To links to the contact: the one the sending run names, else the one
// with that address, if any.
import { Fragment, useEffect, useRef } from 'react';
import { NudgeApiError, nudge } from '../api.js';
import { ClockNote } from '../clock.js';
import { Link } from '../router.js';
import { Pager, Problem, Time, useLoad } from '../ui.js';

export function Mailbox({ id, before }: { id?: number; before?: string }) {
  const list = useLoad(
    () => nudge.mailbox.list(before ? { before } : {}),
    `mailbox ${before ?? ''}`,
    5000,
  );
  // An older page keeps its place in the address, and so does the email chosen on it.
  const here = (page?: string, mail = id) => ({
    page: 'mailbox' as const,
    ...(mail !== undefined ? { id: mail } : {}),
    ...(page ? { before: page } : {}),
  });
  const chosen = id ?? list.data?.items[0]?.id;
  return (
    <section>
      <h1>Mailbox</h1>
      <p className="muted small">Emails kept by email.provider: dev instead of being sent.</p>
      <ClockNote>
        {(moved) =>
          `Sent times are in real time; the decisions that sent the emails, in Logs, are on the engine clock, ${moved}.`
        }
      </ClockNote>
      <Problem error={list.error} />
      {list.data && list.data.items.length === 0 && <p className="muted">No emails yet.</p>}
      <div className="mailbox">
        <ol className="mails" aria-label="Emails, newest first">
          {(list.data?.items ?? []).map((mail) => (
            <li
              key={mail.id}
              className={mail.id === chosen ? 'chosen' : undefined}
              data-mail={mail.id}
            >
              <Link to={here(before, mail.id)}>
                <strong>{mail.subject ?? '(no subject)'}</strong>
                <span className="muted small">
                  {' '}
                  to {mail.to} · <Time at={mail.sent_at} relative />
                </span>
              </Link>
            </li>
          ))}
        </ol>
        {chosen !== undefined && <Mail key={chosen} id={chosen} chosen={id !== undefined} />}
      </div>
      <Pager
        newest={before ? here() : undefined}
        older={list.data?.next ? here(list.data.next) : undefined}
      />
    </section>
  );
}

/** One email; `chosen`: picked from the list (not the newest shown by default). */
function Mail({ id, chosen }: { id: number; chosen: boolean }) {
  const { data, error } = useLoad(() => nudge.mailbox.get(id), `mail ${id}`);
  const article = useRef<HTMLElement>(null);
  const loaded = data !== undefined;
  // Bring the email chosen into view: on a phone it is under the whole list; beside
  // the list (a wider screen) it is in view already, and `nearest` leaves it be.
  useEffect(() => {
    if (loaded && chosen) article.current?.scrollIntoView({ block: 'nearest' });
  }, [loaded, chosen]);
  return (
    <article className="mail" aria-label="The email" ref={article}>
      <Problem error={error} />
      {data && (
        <>
          <dl>
            <dt>Subject</dt>
            <dd>{data.subject ?? '(no subject)'}</dd>
            <dt>To</dt>
            <dd>
              <Recipient address={data.to} contact={data.contact_id} />
            </dd>
            <dt>From</dt>
            <dd>{data.from ?? '(none: email.from is not set)'}</dd>
            <dt>Sent</dt>
            <dd>
              <Time at={data.sent_at} />
            </dd>
            {data.feature && (
              <>
                <dt>By</dt>
                <dd>
                  <Link to={{ page: 'feature', name: data.feature }}>{data.feature}</Link>
                  {data.stage ? <span className="muted"> in stage {data.stage}</span> : null}
                </dd>
              </>
            )}
          </dl>
          {Object.keys(data.headers).length > 0 && (
            <details className="headers">
              <summary>Headers</summary>
              <dl>
                {Object.entries(data.headers).map(([name, value]) => (
                  <Fragment key={name}>
                    <dt>{name}</dt>
                    <dd className="code">{value}</dd>
                  </Fragment>
                ))}
              </dl>
            </details>
          )}
          {data.has_html && (
            <iframe
              title={`HTML of “${data.subject ?? 'the email'}”`}
              sandbox=""
              src={nudge.mailbox.htmlUrl(id)}
            />
          )}
          {data.text && <pre className="text">{data.text}</pre>}
        </>
      )}
    </article>
  );
}

/**
 * An email's recipient, a link to its contact: the one the run that sent it
 * names (`contact`), else the contact with that address; as text when there
 * is none (mail sent to an address no contact has).
 */
function Recipient({ address, contact }: { address: string; contact: string | null }) {
  const found = useLoad(
    () =>
      contact
        ? Promise.resolve(contact)
        : nudge.contacts.get(address, { limit: 1 }).then(
            (answer) => answer.contact.id,
            (error: unknown) => {
              if (error instanceof NudgeApiError && error.status === 404) return null;
              throw error;
            },
          ),
    `recipient ${contact ?? address}`,
  );
  if (!found.data) return <>{address}</>;
  return <Link to={{ page: 'contact', ref: found.data }}>{address}</Link>;
}
