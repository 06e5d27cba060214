// The Contacts page's Sync panel: each contact sync (Supabase Auth users,
// each table_mapping entry) with its status, its last run's mode in words,
// when it last moved and its counts, from GET /v1/sync; with live sync on,
// that contacts are kept current as they change and what Sync now is then
// for. "Sync now" asks first (ui.tsx Confirm), saying what this run reads
// (every row, or only what changed since the last run), then starts `nudge
// sync` in the server (POST /v1/sync) and follows it until it ends. A server
// with no sync set up says how to set one up instead.
import { useRef, useState } from 'react';
import type { SyncInfo } from '../../src/client/index.js';
import { nudge } from './api.js';
import { count, localTime } from './format.js';
import { Badge, Confirm, Problem, Time, useLoad } from './ui.js';
import './sync-panel.css';

/** How often the panel reads again: often while a sync runs, seldom otherwise. */
const BUSY_MS = 1000;
const IDLE_MS = 15_000;

/** A status in the badge colours the pages already use. */
const BADGES: Record<SyncInfo['status'], { kind: string; words: string }> = {
  idle: { kind: 'draft', words: 'never synced' },
  queued: { kind: 'draft', words: 'queued' },
  running: { kind: 'synced', words: 'running' },
  done: { kind: 'completed', words: 'done' },
  interrupted: { kind: 'paused', words: 'interrupted' },
  failed: { kind: 'error', words: 'failed' },
};

/** Before its first run, a sync that live sync keeps current has contacts all the same. */
const LIVE_IDLE = { kind: 'draft', words: 'not read in full yet' };

const busy = (sync: SyncInfo) => sync.status === 'running' || sync.status === 'queued';

/** What a sync is called on the panel: Auth users, or its table. */
const labelOf = (sync: SyncInfo) => sync.table ?? 'Auth users';

/** What a run's mode means, on hover; the row says it in short beside it. */
const MODE_TITLES: Record<NonNullable<SyncInfo['mode']>, string> = {
  full: 'A full run reads every row: the first run, each run of a table with neither updated_at nor created_at, or one asked for as full (nudge sync --full).',
  incremental:
    'An incremental run reads only the rows changed since the time shown: the start of the run before it, less a minute.',
};

/**
 * What Sync now's run reads, as the server says the run will decide
 * (`next`): "This first run reads every user.", "This run reads only the
 * users changed since the last run (since 10:02).", one sentence a sync.
 */
function runWords(syncs: SyncInfo[], now = new Date()): string {
  return syncs
    .map((sync) => {
      const rows = sync.resource === 'users' ? 'users' : 'rows';
      const row = sync.resource === 'users' ? 'user' : 'row';
      const since = sync.next.since ? localTime(new Date(sync.next.since), now) : undefined;
      const first = sync.started_at === null && sync.status === 'idle';
      const reads =
        sync.next.read === 'continue'
          ? `continues the ${sync.mode ? `${sync.mode} ` : ''}run that stopped, from where it stopped`
          : sync.next.read === 'incremental'
            ? `reads only the ${rows} changed since the last run${since ? ` (since ${since})` : ''}`
            : first
              ? `reads every ${row}`
              : `reads every ${row} again (a full run)`;
      const who =
        syncs.length === 1
          ? first
            ? 'This first run'
            : 'This run'
          : `${labelOf(sync)}: ${first ? 'the first run' : 'this run'}`;
      return `${who} ${reads}.`;
    })
    .join(' ');
}

/** `onSynced`: after the syncs it followed have ended (the page reads its contacts again). */
export function SyncPanel({ onSynced }: { onSynced?: () => void }) {
  const [asking, setAsking] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const [starting, setStarting] = useState(false);
  const [polling, setPolling] = useState(false);
  const wasBusy = useRef(false);
  const { data, error, reload } = useLoad(
    () =>
      nudge.sync.state().then((state) => {
        const now = state.syncs.some(busy);
        if (wasBusy.current && !now) onSynced?.();
        wasBusy.current = now;
        setPolling(now);
        return state;
      }),
    'sync',
    polling ? BUSY_MS : IDLE_MS,
  );
  const configured = data?.syncs.filter((sync) => sync.configured) ?? [];
  const running = data?.syncs.some(busy) ?? false;
  const start = async () => {
    setAsking(false);
    setProblem(undefined);
    setStarting(true);
    try {
      await nudge.sync.start();
      wasBusy.current = true;
      setPolling(true);
      reload();
    } catch (failure) {
      setProblem(failure);
    } finally {
      setStarting(false);
    }
  };
  const what = configured.map((sync) => (sync.table ? sync.table : 'users')).join(' and ');
  const live = configured.filter((sync) => sync.live);
  return (
    <section className="sync-panel" aria-labelledby="sync-heading">
      <div className="heading start">
        <h2 id="sync-heading">Sync</h2>
        {data?.configured && (
          <button
            type="button"
            onClick={() => setAsking(true)}
            disabled={running || starting}
            aria-expanded={asking}
          >
            {running || starting ? 'Syncing…' : 'Sync now'}
          </button>
        )}
      </div>
      {asking && (
        <Confirm
          question={`Sync ${what} from Supabase now? ${runWords(configured)}`}
          yes="Yes, sync"
          onYes={start}
          onCancel={() => setAsking(false)}
        />
      )}
      <Problem error={error ?? problem} />
      {live.length > 0 && <LiveNote live={live} />}
      {data && !data.configured && (
        <p className="muted hint" data-testid="sync-hint">
          {data.hint}
        </p>
      )}
      {data && data.syncs.length > 0 && (
        <div className="scroll">
          <table className="stack fit sync">
            <thead>
              <tr>
                <th>Sync</th>
                <th>Status</th>
                <th>Last run</th>
                <th>Counts</th>
              </tr>
            </thead>
            <tbody>
              {data.syncs.map((sync) => (
                <SyncRow key={sync.name} sync={sync} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/**
 * With live sync on: contacts are kept current as they change, so Sync now
 * is for what happened before — the whole table once, then only changes.
 */
function LiveNote({ live }: { live: SyncInfo[] }) {
  const names = live.map(labelOf).join(' and ');
  const unread = live.some((sync) => sync.status === 'idle' && sync.started_at === null);
  return (
    <p className="muted live-note" data-testid="sync-live">
      Live sync is on for {names} (connectors.supabase.sync.realtime): contacts are kept current as
      they change.{' '}
      {unread
        ? 'Sync now reads the whole table once, to catch up on what happened before.'
        : 'Sync now catches up on anything live sync missed (while the engine was stopped, say).'}
    </p>
  );
}

/** A run's mode in words, its meaning on hover: "full: read every row", "incremental: rows changed since 10:02". */
function ModeWords({ sync }: { sync: SyncInfo }) {
  if (!sync.mode) return null;
  return (
    <span className="muted mode" title={MODE_TITLES[sync.mode]} data-testid="sync-mode">
      {' '}
      {sync.mode === 'full' ? (
        'full: read every row'
      ) : (
        <>
          incremental: rows changed since <Time at={sync.since} />
        </>
      )}
    </span>
  );
}

function SyncRow({ sync }: { sync: SyncInfo }) {
  const badge = sync.live && sync.status === 'idle' ? LIVE_IDLE : BADGES[sync.status];
  return (
    <tr data-sync={sync.name} data-status={sync.status} data-live={sync.live || undefined}>
      <td data-label="Sync">
        {sync.table ? <span className="code">{sync.table}</span> : 'Auth users'}
        {sync.live && (
          <span title="Live sync (connectors.supabase.sync.realtime) keeps these contacts current as they change">
            {' '}
            <Badge kind="synced">live</Badge>
          </span>
        )}
        {!sync.configured && <span className="muted"> (not in nudge.yaml)</span>}
      </td>
      <td data-label="Status">
        <Badge kind={badge.kind}>{badge.words}</Badge>
        <ModeWords sync={sync} />
        {sync.status === 'interrupted' && (
          <span className="muted"> — Sync now continues where it stopped</span>
        )}
        {sync.error && <span className="problem"> {sync.error}</span>}
      </td>
      <td data-label="Last run">
        {sync.updated_at ? (
          <Time at={sync.updated_at} relative />
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td data-label="Counts" data-testid="sync-counts">
        {sync.stats ? counts(sync) : <span className="muted">—</span>}
      </td>
    </tr>
  );
}

/** "25 synced (25 new, 0 updated) · 0 skipped", deletions when there are any. */
function counts({ stats }: SyncInfo): string {
  if (!stats) return '';
  const deleted = stats.deleted > 0 ? ` · ${count(stats.deleted)} deleted` : '';
  return `${count(stats.synced)} synced (${count(stats.created)} new, ${count(stats.updated)} updated) · ${count(stats.skipped)} skipped${deleted}`;
}
