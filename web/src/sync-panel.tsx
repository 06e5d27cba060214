// The Contacts page's Sync panel: each contact sync (Supabase Auth users,
// each table_mapping entry) with its status, when it last moved and its
// counts, from GET /v1/sync; "Sync now" asks first (ui.tsx Confirm), then
// starts `nudge sync` in the server (POST /v1/sync) and follows it until it
// ends. A server with no sync set up says how to set one up instead.
import { useRef, useState } from 'react';
import type { SyncInfo } from '../../src/client/index.js';
import { nudge } from './api.js';
import { count } from './format.js';
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

const busy = (sync: SyncInfo) => sync.status === 'running' || sync.status === 'queued';

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
          question={`Sync ${what} from Supabase now? A sync that stopped continues; after a finished one, only rows changed since are read.`}
          yes="Yes, sync"
          onYes={start}
          onCancel={() => setAsking(false)}
        />
      )}
      <Problem error={error ?? problem} />
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

function SyncRow({ sync }: { sync: SyncInfo }) {
  const badge = BADGES[sync.status];
  return (
    <tr data-sync={sync.name} data-status={sync.status}>
      <td data-label="Sync">
        {sync.table ? <span className="code">{sync.table}</span> : 'Auth users'}
        {!sync.configured && <span className="muted"> (not in nudge.yaml)</span>}
      </td>
      <td data-label="Status">
        <Badge kind={badge.kind}>{badge.words}</Badge>
        {sync.mode && <span className="muted"> {sync.mode}</span>}
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
