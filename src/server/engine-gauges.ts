// The engine's state on GET /metrics, read from the stores at each scrape by
// the same functions as GET /v1/overview (api/overview.ts), so an alert and
// the dashboard say the same. Every process that serves /metrics reports the
// whole engine's state, not its own share: scrape one of them. Each part is
// read on its own; one that cannot be read says so in nudge_metrics_read_ok
// and leaves no stale value behind.
import { Gauge, type Registry } from 'prom-client';
import { TRANSPORTS } from '../capture/transports/index.js';
import { captureFacts, engineFacts, type OverviewApiOptions } from './api/overview.js';

type Options = Pick<OverviewApiOptions, 'sql' | 'source' | 'project' | 'features'>;

/** Registers the gauges in `registry`; the function returned reads and sets them (call it before each scrape). */
export function makeEngineGauges(registry: Registry, options: Options): () => Promise<void> {
  const registers = [registry];
  const names = new Map<Gauge<string>, string>();
  const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) => {
    const g = new Gauge<L>({ name: `nudge_${name}`, help, labelNames, registers });
    names.set(g, `nudge_${name}`);
    return g;
  };
  const readOk = gauge(
    'metrics_read_ok',
    'Whether the part of the state could be read at this scrape (1) or not (0)',
    ['part'],
  );
  const inbox = gauge('inbox_pending', 'Events received and not processed yet');
  const inboxAge = gauge(
    'inbox_oldest_pending_age_seconds',
    'How long the oldest unprocessed event has waited (0: none)',
  );
  const capture = gauge(
    'capture_pending',
    'Changes captured in the source database that the engine has not taken yet',
  );
  const captureAge = gauge(
    'capture_oldest_pending_age_seconds',
    'How long the oldest of those changes has waited (0: none)',
  );
  const notCaptured = gauge(
    'capture_not_captured_rows',
    'Rows a trigger could not capture, waiting for nudge capture retry',
  );
  const runs = gauge('action_runs', 'Action runs retrying or dead (dead ones wait for a replay)', [
    'status',
  ]);
  const features = gauge(
    'features',
    'Features by status (paused: in its file or live from the dashboard)',
    ['status'],
  );
  const processes = gauge('engine_processes', 'Engine processes registered in the engine store');
  const own = new Map<string, Gauge<string>>();
  const age = (at: string | null) => (at ? Math.max(0, (Date.now() - Date.parse(at)) / 1000) : 0);

  // A part that cannot be read takes its gauges out of the registry until it
  // can again: a gauge without labels would otherwise show 0, which reads
  // as "nothing waiting".
  const part = async (name: string, gauges: Gauge<string>[], read: () => Promise<void>) => {
    try {
      await read();
      for (const g of gauges)
        if (!registry.getSingleMetric(names.get(g)!)) registry.registerMetric(g);
      readOk.set({ part: name }, 1);
    } catch {
      for (const g of gauges) registry.removeSingleMetric(names.get(g)!);
      readOk.set({ part: name }, 0);
    }
  };

  return async () => {
    const context = { source: options.source, project: options.project };
    const name = options.project.config.capture.transport;
    const transport = TRANSPORTS[name];
    await Promise.all([
      part('engine', [inbox, inboxAge, runs, features, processes], async () => {
        const engine = await engineFacts(options);
        inbox.set(engine.inbox_pending);
        inboxAge.set(age(engine.inbox_oldest_at));
        runs.set({ status: 'retrying' }, engine.actions.retrying);
        runs.set({ status: 'dead' }, engine.actions.dead);
        for (const [status, n] of Object.entries(engine.features)) features.set({ status }, n);
        processes.set(engine.processes.length);
      }),
      part('capture', [capture, captureAge, notCaptured], async () => {
        const facts = await captureFacts(options.source);
        capture.set(facts.pending);
        captureAge.set(age(facts.oldest_at));
        notCaptured.set(facts.not_captured.rows);
      }),
      transport.gauges &&
        part(name, [...own.values()], async () => {
          for (const { name, help, value, labels = {} } of await transport.gauges!(context)) {
            let g = own.get(name);
            if (!g) {
              g = gauge(name, help, Object.keys(labels));
              own.set(name, g);
            }
            g.set(labels, value);
          }
        }),
    ]);
  };
}
