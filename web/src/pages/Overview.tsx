// Overview: where Nudge reads from and how far behind it is — the source
// database, access mode, capture transport and last deployment, the lag of
// captured rows and of the engine's inbox, actions that need a look, the
// features and the engine clock. Refreshes every 5 s.
import type { Overview as OverviewData, Unreadable } from '../../../src/client/index.js';
import { nudge } from '../api.js';
import { age, count } from '../format.js';
import { Link } from '../router.js';
import { Badge, Problem, Time, useLoad } from '../ui.js';

const readable = <T extends object>(part: T | Unreadable): part is T => !('error' in part);

export function Overview() {
  const { data, error } = useLoad(() => nudge.overview(), 'overview', 5000);
  return (
    <section>
      <h1>Overview</h1>
      <Problem error={error} />
      {data ? <Cards data={data} /> : !error && <p className="muted">Loading…</p>}
    </section>
  );
}

function Cards({ data }: { data: OverviewData }) {
  const { source, capture, engine } = data;
  const now = Date.now();
  return (
    <div className="cards">
      <article className="card" aria-labelledby="card-source">
        <h2 id="card-source">Source database</h2>
        {readable(source) ? (
          <dl>
            <dt>Host</dt>
            <dd>
              {source.host}:{source.port}/{source.database}
            </dd>
            <dt>Version</dt>
            <dd>PostgreSQL {source.version}</dd>
            <dt>Role</dt>
            <dd>{source.role}</dd>
            <dt>wal_level</dt>
            <dd>{source.wal_level}</dd>
            <dt>pg_net</dt>
            <dd>{source.pg_net ? 'installed' : 'not installed'}</dd>
          </dl>
        ) : (
          <Problem error={source.error} />
        )}
      </article>

      <article className="card" aria-labelledby="card-capture">
        <h2 id="card-capture">Capture</h2>
        <dl>
          <dt>Access</dt>
          <dd>
            <Badge kind={data.access === 'read-only' ? 'paused' : 'active'}>{data.access}</Badge>
          </dd>
          <dt>Transport</dt>
          <dd>{data.transport}</dd>
          {readable(capture) ? (
            <>
              <dt>nudge schema</dt>
              <dd>
                {capture.schema.exists
                  ? `migration ${capture.schema.applied}${capture.schema.missing.length ? `, missing ${capture.schema.missing.join(', ')}` : ''}`
                  : 'not installed — run nudge deploy'}
              </dd>
              <dt>Last deployment</dt>
              <dd>
                {capture.deployment ? (
                  <>
                    #{capture.deployment.id} <Time at={capture.deployment.at} relative />
                  </>
                ) : (
                  'none yet'
                )}
              </dd>
            </>
          ) : (
            <dd>
              <Problem error={capture.error} />
            </dd>
          )}
        </dl>
      </article>

      <article className="card" aria-labelledby="card-lag">
        <h2 id="card-lag">Lag</h2>
        <dl>
          {readable(capture) && (
            <>
              <dt>Captured, not consumed</dt>
              <dd data-testid="lag-pending">{count(capture.pending)} rows</dd>
              <dt>Oldest waiting</dt>
              <dd>
                {capture.oldest_at ? age(now - new Date(capture.oldest_at).getTime()) : 'none'}
              </dd>
            </>
          )}
          {readable(engine) && (
            <>
              <dt>Inbox, not processed</dt>
              <dd>{count(engine.inbox_pending)} events</dd>
              <dt>Oldest in inbox</dt>
              <dd>
                {engine.inbox_oldest_at
                  ? age(now - new Date(engine.inbox_oldest_at).getTime())
                  : 'none'}
              </dd>
            </>
          )}
        </dl>
      </article>

      {readable(engine) ? (
        <article className="card" aria-labelledby="card-engine">
          <h2 id="card-engine">Engine</h2>
          <dl>
            <dt>Features</dt>
            <dd>
              <Link to={{ page: 'features' }}>
                {engine.features.active} active, {engine.features.paused} paused,{' '}
                {engine.features.draft} draft
              </Link>
            </dd>
            <dt>Actions retrying</dt>
            <dd>{count(engine.actions.retrying)}</dd>
            <dt>Actions dead</dt>
            <dd>
              {engine.actions.dead ? <Badge kind="error">{count(engine.actions.dead)}</Badge> : '0'}
            </dd>
            <dt>Engine time</dt>
            <dd>
              <Time at={engine.clock.now} />
              {engine.clock.offset_ms !== 0 && (
                <span className="muted"> (moved {age(Math.abs(engine.clock.offset_ms))})</span>
              )}
            </dd>
            <dt>State</dt>
            <dd>{data.store}</dd>
          </dl>
        </article>
      ) : (
        <Problem error={engine.error} />
      )}
    </div>
  );
}
