// What a sync tells the user: log lines at the configured level (log_level,
// debug, log_queries), a progress bar with rate and ETA on a terminal or plain
// periodic lines otherwise, and the summary. Every line goes through one
// redaction of the run's secrets (service key, database password).
import cliProgress from 'cli-progress';
import type { Io } from '../../cli/io.js';
import type { RunPlan, SyncStats } from './checkpoint.js';
import type { SyncResult } from './runner.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'verbose' | 'debug';
const LEVELS: LogLevel[] = ['error', 'warn', 'info', 'verbose', 'debug'];

export interface SyncLog {
  enabled(level: LogLevel): boolean;
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  verbose(message: string): void;
  debug(message: string): void;
  /** A SQL statement or HTTP request (log_queries); text only, never parameter values. */
  query(text: string): void;
  /** Removes every secret from a text (for errors printed elsewhere). */
  redact(text: string): string;
}

export interface LogSettings {
  debug?: boolean;
  log_level?: LogLevel;
  log_queries?: boolean;
}

export function makeSyncLog(
  io: Io,
  settings: LogSettings,
  secrets: (string | undefined)[],
): SyncLog {
  const level = settings.debug ? 'debug' : (settings.log_level ?? 'info');
  const rank = LEVELS.indexOf(level);
  // Longest first, so a password inside a URL goes before the URL's parts.
  const hidden = [...new Set(secrets.filter((s): s is string => !!s && s.length >= 4))].sort(
    (a, b) => b.length - a.length,
  );
  const redact = (text: string) => hidden.reduce((t, s) => t.split(s).join('***'), text);
  const c = io.colors;
  const line = (at: LogLevel, prefix: string) => (message: string) => {
    if (LEVELS.indexOf(at) <= rank) io.err(redact(`${prefix}${message}`));
  };
  return {
    enabled: (at) => LEVELS.indexOf(at) <= rank,
    error: line('error', `${c.red('✗')} `),
    warn: line('warn', `${c.yellow('!')} `),
    info: line('info', ''),
    verbose: line('verbose', c.dim('· ')),
    debug: line('debug', c.dim('[debug] ')),
    query: (text) => {
      if (settings.log_queries || settings.debug) {
        io.err(redact(`${c.dim('[query]')} ${text.replace(/\s+/g, ' ').trim()}`));
      }
    },
    redact,
  };
}

export interface SyncReporter {
  log: SyncLog;
  start(label: string, total: number | null | undefined, plan: RunPlan): void;
  progress(stats: SyncStats): void;
  skipped(id: string, reason: string): void;
  /** A row written without a part of it (an address another contact holds), and why. */
  warned?(id: string, reason: string): void;
  stop(): void;
}

export interface ReporterOptions {
  /** Plain progress lines at most this often besides each tenth of the way (default 5s). */
  intervalMs?: number;
  /** Skips printed one by one at level info before only the summary counts them. */
  skipLines?: number;
}

/** A progress bar on a terminal (cli-progress), plain lines otherwise. */
export function makeReporter(io: Io, log: SyncLog, options: ReporterOptions = {}): SyncReporter {
  const intervalMs = options.intervalMs ?? 5000;
  const skipLines = options.skipLines ?? 10;
  let label = '';
  let total: number | null = null;
  let started = 0;
  let lastLine = 0;
  let lastTenth = 0;
  let skipsShown = 0;
  let warningsShown = 0;
  let bar: cliProgress.SingleBar | undefined;

  const rate = (done: number) => {
    const seconds = (performance.now() - started) / 1000;
    return seconds > 0 ? done / seconds : 0;
  };

  return {
    log,
    start(name, count, plan) {
      label = name;
      total = count ?? null;
      started = performance.now();
      lastLine = started;
      lastTenth = 0;
      const what = total === null ? '' : ` (${formatCount(total)} rows)`;
      log.info(`${name}: ${plan.cursor.mode} sync — ${plan.why}${what}`);
      if (plan.cursor.since) log.verbose(`${name}: rows changed since ${plan.cursor.since}`);
      if (plan.resumed) log.debug(`${name}: resuming after ${JSON.stringify(plan.cursor.after)}`);
      if (io.isTTY && log.enabled('info')) {
        // Only a terminal gets a bar; it draws on stderr, beside the log lines.
        bar = new cliProgress.SingleBar(
          {
            format:
              total === null
                ? `${name} {value} rows | {rate} rows/s | {duration_formatted}`
                : `${name} [{bar}] {percentage}% | {value}/{total} | {rate} rows/s | ETA {eta_formatted}`,
            hideCursor: true,
            clearOnComplete: true,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total ?? 0, 0, { rate: '0' });
      }
    },
    progress(stats) {
      const done = stats.read;
      const perSecond = rate(done);
      if (bar) {
        if (total !== null && done > total) bar.setTotal(done);
        bar.update(done, { rate: formatCount(Math.round(perSecond)) });
        return;
      }
      const now = performance.now();
      const tenth = total ? Math.min(10, Math.floor((done / total) * 10)) : 0;
      if (tenth <= lastTenth && now - lastLine < intervalMs) return;
      lastTenth = Math.max(lastTenth, tenth);
      lastLine = now;
      const of = total
        ? `/${formatCount(total)} (${Math.min(100, Math.round((done / total) * 100))}%)`
        : '';
      const eta =
        total && perSecond > 0 && done < total
          ? ` · ETA ${formatDuration(((total - done) / perSecond) * 1000)}`
          : '';
      log.info(
        `${label}: ${formatCount(done)}${of} · ${formatCount(Math.round(perSecond))} rows/s${eta}`,
      );
    },
    skipped(id, reason) {
      if (log.enabled('verbose') || skipsShown < skipLines) {
        log.warn(`${label}: skipped ${id}: ${reason}`);
      } else if (skipsShown === skipLines) {
        log.warn(`${label}: more rows skipped; the summary counts them by reason`);
      }
      skipsShown++;
    },
    warned(id, reason) {
      if (log.enabled('verbose') || warningsShown < skipLines) {
        log.warn(`${label}: ${id}: ${reason}: synced without it`);
      } else if (warningsShown === skipLines) {
        log.warn(
          `${label}: more rows synced without a part of them; the summary counts them by reason`,
        );
      }
      warningsShown++;
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** The lines printed after a sync. */
export function summaryLines(result: SyncResult, io: Io): string[] {
  const c = io.colors;
  const s = result.stats;
  const seconds = result.ms / 1000;
  const perSecond = seconds > 0 ? Math.round(s.read / seconds) : s.read;
  const head =
    result.status === 'done'
      ? `${c.green('✓')} ${result.label}: ${result.mode} sync done`
      : result.status === 'interrupted'
        ? `${c.yellow('■')} ${result.label}: ${result.mode} sync stopped`
        : `${c.red('✗')} ${result.label}: ${result.mode} sync failed`;
  const lines = [
    `${head} in ${formatDuration(result.ms)} — ${formatCount(s.read)} rows read (${formatCount(perSecond)} rows/s)${result.resumed ? ', continuing an earlier run' : ''}`,
    result.kind === 'events'
      ? `  synced ${formatCount(s.synced)} (new events ${formatCount(s.created)}, already there ${formatCount(s.updated)}) · skipped ${formatCount(s.skipped)}`
      : `  synced ${formatCount(s.synced)} (created ${formatCount(s.created)}, updated ${formatCount(s.updated)}) · skipped ${formatCount(s.skipped)} · deleted ${formatCount(s.deleted)}`,
  ];
  for (const [reason, n] of Object.entries(s.reasons).sort((a, b) => b[1] - a[1])) {
    lines.push(`  skipped ${formatCount(n)}: ${reason}`);
  }
  for (const [reason, n] of Object.entries(s.warnings ?? {}).sort((a, b) => b[1] - a[1])) {
    lines.push(`  synced without it ${formatCount(n)}: ${reason}`);
  }
  if (result.status !== 'done') {
    lines.push(
      `  run the same command again to continue from the checkpoint (${formatCount(result.runStats.read)} rows done so far)`,
    );
  }
  return lines;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${Math.round(seconds % 60)}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}
