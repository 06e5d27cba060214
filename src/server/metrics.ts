// The server's Prometheus metrics, in a registry of its own (two servers in
// one process, as in tests, do not collide). GET /metrics serves it, with
// the engine's state read at each scrape (engine-gauges.ts) and the
// process's own (processMetrics).
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

export interface ServerMetrics {
  registry: Registry;
  /** Requests accepted, by payload shape (capture, supabase, event). */
  accepted: Counter<'shape'>;
  /** Requests refused, by reason (the error code of the response). */
  rejected: Counter<'reason'>;
  /** Rows received, by whether the inbox stored them (new) or had them (duplicate). */
  rows: Counter<'stored'>;
}

export function makeMetrics(): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    accepted: new Counter({
      name: 'nudge_ingest_accepted_total',
      help: 'POST /ingest requests accepted, by payload shape',
      labelNames: ['shape'],
      registers,
    }),
    rejected: new Counter({
      name: 'nudge_ingest_rejected_total',
      help: 'POST /ingest requests refused, by reason',
      labelNames: ['reason'],
      registers,
    }),
    rows: new Counter({
      name: 'nudge_ingest_rows_total',
      help: 'Rows received by POST /ingest, by whether they were new to the inbox',
      labelNames: ['stored'],
      registers,
    }),
  };
}

let processRegistry: Registry | undefined;

/**
 * Node's own metrics for this process — CPU, memory, event loop lag,
 * garbage collection — as `nudge_process_*` and `nudge_nodejs_*`: collected
 * once per process, however many servers it runs.
 */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'nudge_' });
  }
  return processRegistry;
}
