// Overview: where Nudge reads from and how far behind it is — the source
// database, access mode, capture transport and last deployment, the lag of
// captured rows and of the engine's inbox (and rows a trigger could not
// capture, an error badge when there are any), actions that need a look, the
// features and the engine clock, the engine processes and lanes, and events
// (real time), actions and failed attempts (the engine clock) per minute over
// the last hour. Refreshes every 5 s.
// The checks of `nudge doctor` (a connection test: a second or so) are the
// server's last run, read every 15 s; "Check again" runs them now.

import { type MouseEvent, useRef } from 'react';
import type {
  DoctorCheck,
  Overview as OverviewData,
  Unreadable,
} from '../../../src/client/index.js';
import { clockOffsetInWords } from '../../../src/config/duration-words.js';
import { nudge } from '../api.js';
import { ClockNote } from '../clock.js';
import { age, count } from '../format.js';
import { Link } from '../router.js';
import { Spark } from '../spark.js';
import { Badge, Problem, Time, useLoad } from '../ui.js';

const readable = <T extends object>(part: T | Unreadable): part is T => !('error' in part);

export function Overview() {
  const { data, error } = useLoad(() => nudge.overview(), 'overview', 5000);
  return (
    <section>
      <h1>Overview</h1>
      <Problem error={error} />
      {data ? <Cards data={data} /> : !error && <p className="muted">Loading…</p>}
      {data && readable(data.activity) && (
        <section aria-labelledby="activity">
          <h2 id="activity">Last hour, per minute</h2>
          <ClockNote>
            {(moved) =>
              `Events are counted in real time; actions and failures (each attempt, at the minute it was made) on the engine clock, ${moved}.`
            }
          </ClockNote>
          <div className="sparks">
            <Spark label="Events" values={data.activity.events} from={data.activity.from} />
            <Spark
              label="Actions"
              values={data.activity.actions}
              from={data.activity.engine_from}
            />
            <Spark
              label="Failures"
              values={data.activity.failures}
              from={data.activity.engine_from}
              kind="bad"
            />
          </div>
        </section>
      )}
      {data && !readable(data.activity) && <Problem error={data.activity.error} />}
      {data && readable(data.engine) && <Engine engine={data.engine} />}
      <Checks />
    </section>
  );
}

const MARKS: Record<DoctorCheck['outcome'], string> = {
  ok: '✓',
  warn: '⚠',
  fail: '✗',
  skipped: '–',
};

/** The checks of `nudge doctor`, each with its fix line. */
function Checks() {
  const fresh = useRef(false);
  const { data, error, reload } = useLoad(
    () => {
      const now = fresh.current;
      fresh.current = false;
      return nudge.checks({ fresh: now });
    },
    'checks',
    15_000,
  );
  const sections = [...new Set((data?.checks ?? []).map((check) => check.section))];
  const fails = data?.checks.filter((check) => check.outcome === 'fail').length ?? 0;
  const warns = data?.checks.filter((check) => check.outcome === 'warn').length ?? 0;
  return (
    <section aria-labelledby="checks">
      <div className="heading">
        <h2 id="checks">Checks</h2>
        <span className="muted small beside" data-testid="checks-summary">
          {data ? checksSummary(fails, warns) : 'running nudge doctor…'}
          {data && (
            <>
              {' · '}
              <Time at={data.at} relative />
            </>
          )}
        </span>
        <button
          type="button"
          onClick={() => {
            fresh.current = true;
            reload();
          }}
        >
          Check again
        </button>
      </div>
      <Problem error={error} />
      {sections.map((section) => (
        <div key={section}>
          <h3>{section}</h3>
          <ul className="checks">
            {data!.checks
              .filter((check) => check.section === section)
              .map((check) => (
                <li key={`${check.label} ${check.message}`} data-outcome={check.outcome}>
                  <span className={`mark mark-${check.outcome}`} title={check.outcome}>
                    {MARKS[check.outcome]}
                    <span className="sr-only">{check.outcome}</span>
                  </span>
                  <strong>{check.label}</strong>
                  <span className="message">{check.message}</span>
                  {check.items && (
                    <ul className="items">
                      {check.items.map((item) => (
                        <li key={item}>{item}</li>
                      ))}
                    </ul>
                  )}
                  {check.fix && (
                    <span className="fix">
                      <span className="muted">fix:</span> <code>{check.fix}</code>
                    </span>
                  )}
                </li>
              ))}
          </ul>
        </div>
      ))}
    </section>
  );
}

/** "1 problem, 2 warnings", "1 warning", "no problems". */
function checksSummary(fails: number, warns: number): string {
  const counted = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const said = [
    ...(fails ? [counted(fails, 'problem')] : []),
    ...(warns ? [counted(warns, 'warning')] : []),
  ];
  return said.length ? said.join(', ') : 'no problems';
}

type EngineFacts = Exclude<OverviewData['engine'], Unreadable>;

/**
 * Two tables, each under its own heading and as wide as its columns need, so
 * that neither reads as the other's rows; a lane's number is alone in its
 * cell, right-aligned under its header like every number.
 */
function Engine({ engine }: { engine: EngineFacts }) {
  const now = Date.now();
  return (
    <>
      <section aria-labelledby="processes">
        <h2 id="processes">Engine processes</h2>
        {engine.processes.length === 0 ? (
          <p className="muted">
            No engine process has reported: start one with nudge start or nudge worker.
          </p>
        ) : (
          <div className="scroll">
            <table className="fit" aria-labelledby="processes">
              <thead>
                <tr>
                  <th>Host</th>
                  <th className="num">PID</th>
                  <th>Started</th>
                  <th>Last heartbeat</th>
                </tr>
              </thead>
              <tbody>
                {engine.processes.map((p) => (
                  <tr key={`${p.host}-${p.pid}`}>
                    <td>{p.host}</td>
                    <td className="num">{p.pid}</td>
                    <td>
                      <Time at={p.started_at} />
                    </td>
                    <td>
                      <Time at={p.heartbeat_at} relative />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="lanes">
        <h2 id="lanes">Lanes</h2>
        <div className="scroll">
          <table className="fit" data-testid="lanes" aria-labelledby="lanes">
            <thead>
              <tr>
                <th className="num">Lane</th>
                <th className="num">Waiting</th>
                <th>Oldest waiting</th>
                <th>Run</th>
              </tr>
            </thead>
            <tbody>
              {engine.lanes.map((lane) => (
                <tr key={lane.lane}>
                  <td className="num">{lane.lane}</td>
                  <td className="num">{count(lane.pending)}</td>
                  <td className="age">
                    {lane.oldest_at ? age(now - new Date(lane.oldest_at).getTime()) : 'none'}
                  </td>
                  <td className={lane.running ? undefined : 'muted'}>
                    {lane.running ? 'yes' : 'no: beyond engine.partitions'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}

type CaptureFacts = Exclude<OverviewData['capture'], Unreadable>;

/**
 * Rows a capture trigger could not capture: none, or how many as an error
 * badge with where to look — the checks below on this page (Capture
 * failures names them and the fix) — and the latest one's table and error.
 */
function NotCapturedRows({ facts }: { facts: CaptureFacts['not_captured'] }) {
  if (facts.rows === 0) return <>0 rows</>;
  const latest = facts.latest;
  return (
    <>
      <Badge kind="error">{`${count(facts.rows)} ${facts.rows === 1 ? 'row' : 'rows'}`}</Badge> —{' '}
      {/* biome-ignore lint/a11y/useValidAnchor: a link to #checks, which works without script too; the click only keeps #checks out of the address */}
      <a href="#checks" onClick={toChecks} data-testid="lag-to-checks">
        see the checks below
      </a>
      {latest && (
        <div className="muted small" data-testid="lag-not-captured-latest">
          latest: {latest.table} {latest.operation}, <Time at={latest.at} relative />
          {latest.message
            ? ` — ${[latest.sqlstate, latest.message].filter(Boolean).join(' ')}`
            : ''}
        </div>
      )}
    </>
  );
}

/**
 * Scrolls to the Checks heading and moves the focus there, so the next Tab
 * is in the checks, without a #checks in the address: the router keeps the
 * page's own address (path and query) as its route, as "Skip to content" does.
 */
function toChecks(event: MouseEvent<HTMLAnchorElement>) {
  const heading = document.getElementById('checks');
  if (!heading) return;
  event.preventDefault();
  if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
  heading.focus();
  heading.scrollIntoView({ block: 'start' });
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
              <dt>Not captured</dt>
              <dd data-testid="lag-not-captured">
                <NotCapturedRows facts={capture.not_captured} />
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
            <dd>
              {engine.actions.retrying ? (
                <Link to={{ page: 'actions', status: 'retrying' }}>
                  {count(engine.actions.retrying)}
                </Link>
              ) : (
                '0'
              )}
            </dd>
            <dt>Actions dead</dt>
            <dd>
              {engine.actions.dead ? (
                <Link to={{ page: 'actions', status: 'dead' }}>
                  <Badge kind="error">{count(engine.actions.dead)}</Badge>
                </Link>
              ) : (
                '0'
              )}
            </dd>
            <dt>Engine time</dt>
            <dd data-testid="overview-engine-time">
              <Time at={engine.clock.now} clock="engine" dated={engine.clock.offset_ms !== 0} />
              {engine.clock.offset_ms !== 0 && (
                <span className="muted"> ({clockOffsetInWords(engine.clock.offset_ms)})</span>
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
