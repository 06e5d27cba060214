// Actions: action runs newest first, dead (gave up) by default, with their
// attempts and last error, filtered by status, feature and age; Replay runs
// a dead one again, or every dead one matching the filter (a feature, a
// time) — the same as `nudge replay`. Filters are in the URL.
import { useState } from 'react';
import { ACTION_STATUSES, type ActionRun } from '../../../src/client/index.js';
import { nudge } from '../api.js';
import { Link, navigate } from '../router.js';
import { Badge, Choice, Loading, Problem, Time, useLoad } from '../ui.js';

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
}: {
  status?: string;
  feature?: string;
  since?: string;
}) {
  const shown = status ?? 'dead';
  const [extra, setExtra] = useState<{ items: ActionRun[]; next: string | null }>();
  const [problem, setProblem] = useState<unknown>();
  // How many runs the last Replay queued again (undefined: none asked yet).
  const [replayed, setReplayed] = useState<number>();
  const query = { status: shown === 'all' ? undefined : shown, feature, since, limit: 50 };
  const features = useLoad(() => nudge.features.all(), 'feature names');
  const { data, error, reload } = useLoad(
    () => {
      setExtra(undefined);
      return nudge.actions.list(query);
    },
    `actions ${shown} ${feature ?? ''} ${since ?? ''}`,
    5000,
  );
  const items = [...(data?.items ?? []), ...(extra?.items ?? [])];
  const next = extra ? extra.next : data?.next;
  const go = (change: { status?: string; feature?: string; since?: string }) => {
    const merged = { status, feature, since, ...change };
    // The last replay's count was about the list as it was filtered then.
    setReplayed(undefined);
    navigate({
      page: 'actions',
      ...(merged.status && merged.status !== 'dead' ? { status: merged.status } : {}),
      ...(merged.feature ? { feature: merged.feature } : {}),
      ...(merged.since ? { since: merged.since } : {}),
    });
  };
  const replay = async (what: { key: string } | { feature?: string; since?: string }) => {
    setProblem(undefined);
    try {
      const { queued } = await nudge.actions.replay(what);
      setReplayed(queued);
      reload();
    } catch (failure) {
      setProblem(failure);
    }
  };
  return (
    <section>
      <div className="heading">
        <h1>Actions</h1>
        {(feature || since) && shown === 'dead' && items.length > 0 && (
          <button
            type="button"
            onClick={() => replay({ ...(feature ? { feature } : {}), ...(since ? { since } : {}) })}
          >
            Replay all dead runs{feature ? ` of ${feature}` : ''}
            {since ? ` from the ${AGES.find(([v]) => v === since)?.[1] ?? since}` : ''}
          </button>
        )}
      </div>
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
          <table>
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
                  <td>
                    <Time at={run.created_at} />
                    {run.updated_at !== run.created_at && (
                      <div className="muted small">
                        updated <Time at={run.updated_at} />
                      </div>
                    )}
                  </td>
                  <td>
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
                  <td>{run.contact ?? '—'}</td>
                  <td>
                    {run.kind}
                    {run.stage ? <span className="muted"> in {run.stage}</span> : null}
                  </td>
                  <td>
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
                  <td className="code">{run.last_error ?? ''}</td>
                  <td>
                    {run.status === 'dead' && (
                      <button type="button" onClick={() => replay({ key: run.key })}>
                        Replay
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next && (
        <button
          type="button"
          onClick={async () => {
            try {
              const page = await nudge.actions.list({ ...query, before: next });
              setExtra((old) => ({
                items: [...(old?.items ?? []), ...page.items],
                next: page.next,
              }));
            } catch (failure) {
              setProblem(failure);
            }
          }}
        >
          Older
        </button>
      )}
    </section>
  );
}

/** "replayed after 3 attempts", "replayed 2 times after 6 attempts": what a replay's reset count hides. */
function replayHistory(run: ActionRun): string {
  const times = run.replays === 1 ? '' : ` ${run.replays} times`;
  const before = run.attempts_before_replay;
  return `replayed${times} after ${before} attempt${before === 1 ? '' : 's'}`;
}
