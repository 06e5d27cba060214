// The transport registry: each value of capture.transport and its
// implementation. A new transport provides a Transport (port.ts: the objects
// deploy installs, what the engine runs for it, its doctor lines) from its own
// folder, one line in TRANSPORTS below, and its name in config/schema.ts.
import type { LoadedConfig } from '../../config/load.js';
import type { TRANSPORTS as NAMES } from '../../config/schema.js';
import { outbox } from './outbox.js';
import type { Transport } from './port.js';
import { replicationTransport } from './replication/index.js';
import { webhook } from './webhook/index.js';

export type { Transport } from './port.js';

export const TRANSPORTS: Record<(typeof NAMES)[number], Transport> = {
  outbox,
  webhook,
  replication: replicationTransport,
};

/** The project's transport. */
export function transportOf(project: LoadedConfig): Transport {
  return TRANSPORTS[project.config.capture.transport];
}
