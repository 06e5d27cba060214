// Actions: action runs newest first, dead (gave up) by default, with their
// attempts and last error, filtered by status, feature and age; Replay runs
// a dead one again, or every dead one matching the filter (a feature, a
// time) — the same as `nudge replay`, once the page has asked (which run, or
// how many) and been told yes. Filters are in the URL, and so is the
// page: "Older" goes to the address of the next page back (`before`), so a
// reload keeps it and Back returns to the newer one; a filter starts over.
// At a phone's width each run is a card (styles.css, table.stack).
import { useState } from 'react';
import { ACTION_STATUSES, type ActionRun } from '../../../src/client/index.js';
import { plural } from '../../../src/words.js';
import { nudge } from '../api.js';
import { ClockNote } from '../clock.js';
import { Link, navigate } from '../router.js';
import type { Route } from '../routes.js';
import { Badge, Choice, Confirm, Loading, Pager, Problem, Time, useLoad } from '../ui.js';

const AGES = [
  ['', 'any time'],
  ['1h', 'last hour'],
  ['24h', 'last 24 h'],
  ['7d', 'last 7 days'],
] as const;

export function Actions({
  status,
  feature,
  since,
  before,
}: {
  status?: string;
  feature?: string;
  since?: string;
  /** The cursor of an older page ("Older"); none: the newest runs. */
  before?: string;
}) {
  const shown = status ?? 'dead';
  const [problem, setProblem] = useState<unknown>();
  // How many runs the last Replay queued again (undefined: none asked yet).
  const [replayed, setReplayed] = useState<number>();
  // The Replay asked about and waiting for its yes: one run's key, or every dead run of the filter.
  const [asking, setAsking] = useState<string | 'all'>();
  const features = useLoad(() => nudge.features.all(), 'feature names');
  const { data, error, reload } = useLoad(
    () =>
      nudge.actions.list({
        status: shown === 'all' ? undefined : shown,
        feature,
        since,
        before,
        limit: 50,
      }),
    `actions ${shown} ${feature ?? ''} ${since ?? ''} ${before ?? ''}`,
    5000,
  );
  const items = data?.items ?? [];
  // This filter's route, at the newest runs or at an older page.
  const here = (cursor?: string): Route => ({
    page: 'actions',
    ...(status ? { status } : {}),
    ...(feature ? { feature } : {}),
    ...(since ? { since } : {}),
    ...(cursor ? { before: cursor } : {}),
  });
  // A filter changed starts again at the newest runs: no `before`.
  const go = (change: { status?: string; feature?: string; since?: string }) => {
    const merged = { status, feature, since, ...change };
    // The last replay's count was about the list as it was filtered then.
    setReplayed(undefined);
    setAsking(undefined);
    navigate({
      page: 'actions',
      ...(merged.status && merged.status !== 'dead' ? { status: merged.status } : {}),
      ...(merged.feature ? { feature: merged.feature } : {}),
      ...(merged.since ? { since: merged.since } : {}),
    });
  };
  const replay = async (what: { key: string } | { feature?: string; since?: string }) => {
    setAsking(undefined);
    setProblem(undefined);
    try {
      const { queued } = await nudge.actions.replay(what);
      setReplayed(queued);
      reload();
    } catch (failure) {
      setProblem(failure);
    }
  };
  // "of welcome-drip from the last 24 h": the filter a Replay of all takes.
  const matching = `${feature ? ` of ${feature}` : ''}${since ? ` from the ${AGES.find(([v]) => v === since)?.[1] ?? since}` : ''}`;
  // How many that is, when the newest page holds them all; else at least how many, if known.
  const counted = !before && !data?.next;
  const replayAll = counted
    ? `Replay ${plural(items.length, 'dead run')}${matching}? ${items.length === 1 ? 'Its action runs' : 'Their actions run'} again.`
    : `Replay every dead run${matching}${before ? '' : ` (more than ${items.length})`}? Their actions run again.`;
  return (
    <section>
      <div className="heading">
        <h1>Actions</h1>
        {(feature || since) && shown === 'dead' && items.length > 0 && (
          <button type="button" onClick={() => setAsking('all')} aria-expanded={asking === 'all'}>
            Replay all dead runs{matching}
          </button>
        )}
      </div>
      {asking === 'all' && (feature || since) && shown === 'dead' && items.length > 0 && (
        <Confirm
          question={replayAll}
          yes="Yes, replay"
          onYes={() => replay({ ...(feature ? { feature } : {}), ...(since ? { since } : {}) })}
          onCancel={() => setAsking(undefined)}
        />
      )}
      <ClockNote>
        {(moved) =>
          `Run times (and the Created filter) are in real time; the decisions that queued the runs, in Logs, are on the engine clock, ${moved}.`
        }
      </ClockNote>
      <div className="filters">
        <Choice
          label="Status"
          name="status"
          value={shown}
          options={[...ACTION_STATUSES, 'all'].map((value) => [value, value] as const)}
          onChange={(value) => go({ status: value })}
        />
        <Choice
          label="Feature"
          name="feature"
          value={feature ?? ''}
          options={[
            ['', 'all'],
            ...(features.data ?? []).map((f) => [f.name, f.name] as const),
            ...(feature && !features.data?.some((f) => f.name === feature)
              ? [[feature, feature] as const]
              : []),
          ]}
          onChange={(value) => go({ feature: value })}
        />
        <Choice
          label="Created"
          name="since"
          value={since ?? ''}
          options={AGES}
          onChange={(value) => go({ since: value })}
        />
        {shown === 'dead' && !feature && !since && items.length > 0 && (
          <span className="muted small">Choose a feature or a time to replay all that match.</span>
        )}
      </div>
      {replayed !== undefined && (
        <p className="note" role="status">
          {replayed
            ? `${replayed} run${replayed === 1 ? '' : 's'} queued again.`
            : 'Nothing to replay.'}
          {replayed > 0 && shown === 'dead' && (
            <>
              {' '}
              A replayed run leaves this list;{' '}
              <Link
                to={{
                  page: 'actions',
                  status: 'all',
                  ...(feature ? { feature } : {}),
                  ...(since ? { since } : {}),
                }}
              >
                see its delivery among all runs
              </Link>
              .
            </>
          )}
        </p>
      )}
      <Problem error={error ?? problem} />
      <Loading data={data} error={error} />
      {data && items.length === 0 && (
        <p className="muted">No {shown === 'all' ? '' : shown} action runs.</p>
      )}
      {items.length > 0 && (
        <div className="scroll">
          <table className="stack">
            <thead>
              <tr>
                <th>Created</th>
                <th>Feature</th>
                <th>Contact</th>
                <th>Action</th>
                <th>Status</th>
                <th>Last error</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((run) => (
                <tr key={run.id} data-key={run.key} data-status={run.status}>
                  <td data-label="Created">
                    <Time at={run.created_at} />
                    {run.updated_at !== run.created_at && (
                      <div className="muted small">
                        updated <Time at={run.updated_at} />
                      </div>
                    )}
                  </td>
                  <td data-label="Feature">
                    {run.feature ? (
                      <Link
                        to={{
                          page: 'actions',
                          ...(status ? { status } : {}),
                          feature: run.feature,
                          ...(since ? { since } : {}),
                        }}
                      >
                        {run.feature}
                      </Link>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td data-label="Contact">
                    {run.contact ? (
                      <Link to={{ page: 'contact', ref: run.contact }}>{run.contact}</Link>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td data-label="Action">
                    {run.kind}
                    {run.stage ? <span className="muted"> in {run.stage}</span> : null}
                  </td>
                  <td data-label="Status">
                    <Badge
                      kind={
                        run.status === 'dead'
                          ? 'error'
                          : run.status === 'succeeded'
                            ? 'completed'
                            : 'paused'
                      }
                    >
                      {run.status}
                    </Badge>{' '}
                    <span className="muted small">
                      {run.attempts} attempt{run.attempts === 1 ? '' : 's'}
                      {run.replays > 0 && <> · {replayHistory(run)}</>}
                    </span>
                  </td>
                  <td data-label="Last error" className="code">
                    {run.last_error ?? ''}
                  </td>
                  <td>
                    {run.status === 'dead' && (
                      <button
                        type="button"
                        onClick={() => setAsking(run.key)}
                        aria-expanded={asking === run.key}
                      >
                        Replay
                      </button>
                    )}
                    {run.status === 'dead' && asking === run.key && (
                      <Confirm
                        question={`Replay this dead ${run.kind} run${run.contact ? ` for ${run.contact}` : ''}? Its action runs again.`}
                        yes="Yes, replay"
                        onYes={() => replay({ key: run.key })}
                        onCancel={() => setAsking(undefined)}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        newest={before ? here() : undefined}
        older={data?.next ? here(data.next) : undefined}
      />
    </section>
  );
}

/** "replayed after 3 attempts", "replayed 2 times after 6 attempts": what a replay's reset count hides. */
function replayHistory(run: ActionRun): string {
  const times = run.replays === 1 ? '' : ` ${run.replays} times`;
  const before = run.attempts_before_replay;
  return `replayed${times} after ${before} attempt${before === 1 ? '' : 's'}`;
}
