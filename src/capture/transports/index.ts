// The transport registry: each value of capture.transport and its
// implementation, each from its own folder (outbox/, webhook/, replication/).
// A new transport provides a Transport (port.ts: the objects deploy
// installs, what the engine runs for it, its doctor lines), one line in
// TRANSPORTS below, and its name with a few words in config/schema.ts
// (TRANSPORT_WORDS; why the names are not derived from here: port.ts).
import type postgres from 'postgres';
import type { LoadedConfig } from '../../config/load.js';
import type { TRANSPORTS as NAMES } from '../../config/schema.js';
import { outbox } from './outbox/index.js';
import type {
  CapturedBy,
  DesiredCaptures,
  Pump,
  PumpContext,
  Transport,
  TransportObjects,
  TransportState,
} from './port.js';
import { replicationTransport } from './replication/index.js';
import { webhook } from './webhook/index.js';

export type { DesiredCaptures, Transport } from './port.js';

export const TRANSPORTS: Record<(typeof NAMES)[number], Transport> = {
  outbox,
  webhook,
  replication: replicationTransport,
};

/** The project's transport. */
export function transportOf(project: LoadedConfig): Transport {
  return TRANSPORTS[project.config.capture.transport];
}

/** A transport's own objects with its name, the key of its part of the desired captures and state. */
export interface ObjectsPart {
  name: string;
  transport: Transport;
  objects: TransportObjects;
}

/** Every registered transport with objects of its own, whichever the project uses (plan drops another's). */
export function objectsParts(): ObjectsPart[] {
  return Object.entries(TRANSPORTS).flatMap(([name, transport]) =>
    transport.objects ? [{ name, transport, objects: transport.objects }] : [],
  );
}

/** Its part of the desired captures (undefined: it is not the transport deployed). */
export function desiredPart(desired: DesiredCaptures, part: ObjectsPart): unknown {
  return (desired as unknown as Record<string, unknown>)[part.name];
}

/** Its part of the deployed state (TransportObjects.read). */
export function statePart(state: TransportState, part: ObjectsPart): unknown {
  return (state as unknown as Record<string, unknown>)[part.name];
}

/** The trigger-less transport the desired captures are for, if any. */
export function deployingPart(desired: DesiredCaptures): ObjectsPart | undefined {
  return objectsParts().find((part) => desiredPart(desired, part) !== undefined);
}

/** What a deployment of `desired` records as having captured its objects. */
export function capturedByOf(desired: DesiredCaptures): CapturedBy {
  return deployingPart(desired)?.transport.capturedBy ?? 'trigger';
}

/**
 * Changes left in the source by every registered transport's triggers that
 * no pump has moved yet (each one's engine.pending; the outbox's rows),
 * whichever transport the project uses now.
 */
export async function pendingInSource(source: postgres.Sql): Promise<number> {
  let pending = 0;
  for (const transport of Object.values(TRANSPORTS))
    if (transport.engine?.pending) pending += await transport.engine.pending(source);
  return pending;
}

/** When the oldest change counted by pendingInSource was captured; null when there is none. */
export async function oldestPendingInSource(source: postgres.Sql): Promise<Date | null> {
  let oldest: Date | null = null;
  for (const transport of Object.values(TRANSPORTS)) {
    const at = (await transport.engine?.oldestPending?.(source)) ?? null;
    if (at && (!oldest || at < oldest)) oldest = at;
  }
  return oldest;
}

/**
 * The pumps the engine drives, of every registered transport that has one,
 * whichever the project uses (port.ts says why): the outbox's.
 */
export function enginePumps(context: PumpContext): Pump[] {
  return Object.values(TRANSPORTS).flatMap((transport) =>
    transport.engine?.pump ? [transport.engine.pump(context)] : [],
  );
}
