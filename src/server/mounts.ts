// Where the HTTP server mounts everything that is not the dashboard. index.ts
// registers its routes at these paths, and the dashboard answers a browser's
// load of an unknown path with its own Not found page only outside them (an
// unknown path under one gets the API's JSON 404): one list for both, so a
// mount point added here is never left out of either. test/web/dashboard-api
// walks the route table for a route outside this list and the dashboard's.

export const MOUNTS = {
  health: '/health',
  metrics: '/metrics',
  /** POST /ingest, and Resend's delivery webhooks at /ingest/resend. */
  ingest: '/ingest',
  /** The unsubscribe and preference links in emails. */
  email: '/email',
  api: '/v1',
} as const;

/** Whether `path` is one of MOUNTS or under one. */
export function isMounted(path: string): boolean {
  return Object.values(MOUNTS).some((mount) => path === mount || path.startsWith(`${mount}/`));
}
