// `nudge start` (everything in one process: capture pump, lanes, timers,
// schedules, actions, HTTP) and `nudge worker` (the same without HTTP, to add
// processes that share the work). Runs until Ctrl-C / SIGTERM, then drains.

import { createServer } from 'node:net';
import { listenOn } from '../dev/port.js';
import { launch } from '../engine/wiring/launch.js';
import { NudgeError, portInUse } from '../errors.js';
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
  const port = options.port ? Number(options.port) : project.config.server.port;
  if (role === 'start') await refuseTakenPort(project.config.server.host, port);
  const log = makeLog({
    json: options.json || io.env.LOG_FORMAT === 'json',
    verbose: !!options.verbose || !!options.debug,
  });
  const running = await launch(project, {
    http: role === 'start',
    log,
    port,
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

/**
 * Refuses a port another process listens on before any work starts: bound
 * and let go. The engine used to start first (migrate, claim events, run
 * actions for seconds) and only then find the port taken. launch() still
 * refuses it, should another process take it in between.
 */
async function refuseTakenPort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  const free = await listenOn(probe, port, host).catch((error: NodeJS.ErrnoException) => {
    // EACCES (a port under 1024), EADDRNOTAVAIL (server.host is no address of this machine), ...
    throw new NudgeError(
      `cannot listen on port ${port} of ${host}: ${error.code ?? error.message}`,
      'choose another port with --port or server.port, or another server.host, in nudge.yaml',
    );
  });
  if (!free) throw portInUse(port, host);
  await new Promise((resolve) => probe.close(resolve));
}
