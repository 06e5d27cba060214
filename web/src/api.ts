// The one way the dashboard talks to Nudge: the project's typed client over
// /v1, with the session cookie the browser holds (no key in the page) and the
// session's CSRF value on every change.
import { Nudge, NudgeApiError } from '../../src/client/index.js';

let csrf: string | null = null;

/**
 * Told when any answer is a 401 (signed out in another tab, a restart's new
 * token): the header stops offering what a session has (Sign out, the
 * clock's badge) while the page says the session ended.
 */
const sessionEnded = new EventTarget();

export function onSessionEnded(listener: () => void): () => void {
  sessionEnded.addEventListener('ended', listener);
  return () => sessionEnded.removeEventListener('ended', listener);
}

const watchingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (response.status === 401) sessionEnded.dispatchEvent(new Event('ended'));
  return response;
};

export const nudge = new Nudge({
  url: window.location.origin,
  csrf: () => csrf,
  fetch: watchingFetch,
});

/** Reads the session once at start: who is signed in and the CSRF value. */
export async function startSession(): Promise<{ name: string } | 'signed-out'> {
  try {
    const session = await nudge.session();
    csrf = session.csrf;
    return { name: session.name };
  } catch (error) {
    if (error instanceof NudgeApiError && error.status === 401) return 'signed-out';
    throw error;
  }
}

export { NudgeApiError };
