// `nudge start` (everything in one process: capture pump, lanes, timers,
// schedules, actions, HTTP) and `nudge worker` (the same without HTTP, to add
// processes that share the work). Runs until Ctrl-C / SIGTERM, then drains.

import { launch } from '../engine/wiring/launch.js';
import { makeLog } from '../log.js';
import { redactUrl } from '../source/connect.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject } from './project.js';

export interface StartOptions extends GlobalOptions {
  port?: string;
  json?: boolean;
  verbose?: boolean;
}

export async function start(
  options: StartOptions,
  io: Io,
  role: 'start' | 'worker' = 'start',
): Promise<number> {
  const project = await loadProject(options, io);
  const log = makeLog({
    json: options.json || io.env.LOG_FORMAT === 'json',
    verbose: !!options.verbose || !!options.debug,
  });
  const running = await launch(project, {
    http: role === 'start',
    log,
    ...(options.port ? { port: Number(options.port) } : {}),
  });
  const c = io.colors;
  const active = running.features.filter((f) => f.status === 'active');
  io.out(`${c.bold(role === 'start' ? 'Nudge is running' : 'Nudge worker is running')}`);
  io.out(`  source    ${redactUrl(running.store.sourceUrl)}`);
  io.out(`  state     ${running.store.describe()}`);
  io.out(
    `  features  ${active.length} active${active.length ? `: ${active.map((f) => f.name).join(', ')}` : ''}`,
  );
  if (running.undeployed) {
    io.out(
      c.yellow(
        `  capture   ${running.undeployed} change(s) not deployed — run nudge plan, then nudge deploy`,
      ),
    );
  }
  io.out(`  lanes     ${project.config.engine.partitions}`);
  if (running.url) io.out(`  http      ${running.url}  (POST /ingest, GET /health, GET /metrics)`);
  if (running.dashboardUrl) io.out(`  dashboard ${c.cyan(running.dashboardUrl)}`);
  io.out(c.dim('  nudge logs --follow shows every decision; Ctrl-C stops.'));
  // The first signal drains; the listeners go, so a second one ends it at once.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  await new Promise<void>((resolve) => {
    const stop = () => {
      for (const signal of signals) process.off(signal, stop);
      resolve();
    };
    for (const signal of signals) process.on(signal, stop);
  });
  io.out('Stopping: finishing the work in hand...');
  await running.stop();
  return 0;
}

export function worker(options: StartOptions, io: Io): Promise<number> {
  return start(options, io, 'worker');
}
