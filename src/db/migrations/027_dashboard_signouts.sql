-- Dashboard sessions signed out before they expire.
--
-- A session cookie is signed, not stored (src/server/dashboard/access.ts):
-- anyone holding a copy could use it until it expires, 12 hours after
-- sign-in. Sign-out writes the session's id here, until the cookie would
-- have expired, and every request with a session cookie looks its id up
-- (one primary-key probe, of a table that holds only sessions signed out
-- within the last 12 hours): a signed-out cookie opens nothing, in every
-- engine process that shares this store. Rows a day past their expiry are
-- deleted by the next sign-out.
CREATE TABLE nudge_engine.dashboard_signouts (
  session uuid PRIMARY KEY,
  -- When the cookie would have expired anyway.
  expires_at timestamptz NOT NULL
);
