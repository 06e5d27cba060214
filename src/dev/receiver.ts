// Local stand-ins for the services the demo's webhooks call — a fulfilment
// service (/orders) and a media service (/thumbnails) — on 127.0.0.1, hosted
// by the `nudge dev` process. A service can be down: it answers 503 until it
// is brought back up, so the demo shows a webhook retried, dead, and then
// delivered by a replay. Every request is recorded and reported. Their port
// is kept in a file beside the demo's data: action runs store the URL they
// were sent to, so a replay after a restart must find the stand-ins there.
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { keptPort, listenOn } from './port.js';

export interface Delivery {
  service: string;
  path: string;
  status: number;
  body: string;
  /** The Standard Webhooks id: the action run's key, the same on every attempt and replay. */
  webhookId: string;
}

export interface DemoReceiver {
  url: string;
  /** The port kept from the last start, when another process listens there. */
  portTaken?: number;
  received: Delivery[];
  /** Takes a service down (503) or brings it back up (200). */
  setDown(path: string, down: boolean): void;
  isDown(path: string): boolean;
  onDelivery(listener: ((delivery: Delivery) => void) | undefined): void;
  close(): Promise<void>;
}

/** The demo's services by path. */
export const DEMO_SERVICES: Record<string, string> = {
  '/orders': 'fulfilment service',
  '/thumbnails': 'media service',
};

/** The file in the embedded server's data directory (`nudge dev`'s) that keeps the stand-ins' port. */
export const STAND_INS_PORT_FILE = 'nudge-stand-ins.port';

export async function startDemoReceiver(
  options: {
    down?: string[];
    /** Listen on the port kept here when it is free, and keep the port listened on. */
    portFile?: string;
  } = {},
): Promise<DemoReceiver> {
  const down = new Set(options.down ?? []);
  const received: Delivery[] = [];
  let listener: ((delivery: Delivery) => void) | undefined;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const service = DEMO_SERVICES[path] ?? 'unknown service';
      const status = DEMO_SERVICES[path] === undefined ? 404 : down.has(path) ? 503 : 200;
      const delivery = {
        service,
        path,
        status,
        body,
        webhookId: String(req.headers['webhook-id'] ?? '-'),
      };
      received.push(delivery);
      listener?.(delivery);
      const answer =
        status === 200
          ? { ok: true }
          : status === 503
            ? { error: `${service} down (a nudge dev stand-in, down on purpose)` }
            : { error: `nothing at ${path}` };
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  // The last start's port when it is free: a replay goes to the URL a run was first sent to.
  const kept = options.portFile ? await keptPort(options.portFile) : undefined;
  const taken = kept !== undefined && !(await listenOn(server, kept));
  if (kept === undefined || taken) await listenOn(server, 0);
  const { port } = server.address() as AddressInfo;
  if (options.portFile && port !== kept) await writeFile(options.portFile, `${port}\n`);
  return {
    url: `http://127.0.0.1:${port}`,
    ...(taken ? { portTaken: kept } : {}),
    received,
    setDown(path, isDown) {
      if (isDown) down.add(path);
      else down.delete(path);
    },
    isDown: (path) => down.has(path),
    onDelivery(next) {
      listener = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
