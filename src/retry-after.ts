// Retry-After (RFC 9110 §10.2.3), read the same way for every HTTP API Nudge
// calls: the action providers and the Supabase Admin API client.

/**
 * How long a Retry-After header asks us to wait, in ms: delay-seconds (a
 * decimal is accepted too) or an HTTP date. Undefined when absent or unreadable.
 * Unbounded (a year, or Infinity for more digits than a double holds): each
 * caller sets the longest wait it honours (the actions: actions/retry.ts).
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
