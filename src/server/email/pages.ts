// The small HTML pages of the unsubscribe and preference links: server
// rendered, one form each, no JavaScript and nothing loaded from elsewhere,
// so they work in any mail client's browser.
import type { Topic } from '../../email/topics.js';

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}' +
  'button{font:inherit;padding:.4rem 1rem}label{display:block;margin:.4rem 0}p.note{color:#555}';

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/**
 * GET of an unsubscribe link: a button, because mail scanners open links (a
 * GET never unsubscribes). Forms have no action: they post to the page's own
 * URL, whatever proxy path it was reached by.
 */
export function confirmPage(topic: Topic, preferencesUrl: string): string {
  return page(
    'Unsubscribe',
    `<p>Stop receiving <strong>${escapeHtml(topic.label)}</strong> email?</p>` +
      `<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>` +
      `<p class="note"><a href="${escapeHtml(preferencesUrl)}">Choose what you receive</a></p>`,
  );
}

/** A link from an email that does not verify (changed, or signed with a retired key). */
export function badLinkPage(): string {
  return page(
    'This link is not valid',
    '<p>It may have been changed or copied incompletely, or it is from an old email whose link has expired. Open the link in your most recent email from us again.</p>',
  );
}

export function unsubscribedPage(topic: Topic, preferencesUrl: string): string {
  return page(
    'Unsubscribed',
    `<p>You will no longer receive <strong>${escapeHtml(topic.label)}</strong> email.</p>` +
      `<p class="note"><a href="${escapeHtml(preferencesUrl)}">Choose what you receive</a></p>`,
  );
}

/** The preference page: one checkbox a topic, and one to stop everything but transactional mail. */
export function preferencesPage(
  topics: Topic[],
  subscribed: Record<string, boolean>,
  allOff: boolean,
  saved: boolean,
): string {
  const boxes = topics
    .map(
      (t) =>
        `<label><input type="checkbox" name="topic" value="${escapeHtml(t.name)}"${subscribed[t.name] ? ' checked' : ''}> ${escapeHtml(t.label)}` +
        `${t.description ? ` <span class="note">— ${escapeHtml(t.description)}</span>` : ''}</label>`,
    )
    .join('');
  return page(
    'Email preferences',
    `${saved ? '<p role="status"><strong>Saved.</strong></p>' : ''}` +
      `<form method="post">${boxes}` +
      `<label><input type="checkbox" name="all" value="off"${allOff ? ' checked' : ''}> Unsubscribe from all of the above</label>` +
      `<p><button type="submit">Save</button></p></form>` +
      '<p class="note">Receipts and account messages are sent whatever you choose here.</p>',
  );
}
