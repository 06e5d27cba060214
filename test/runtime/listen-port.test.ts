// Where links point when server.public_url is not set: the address the
// server listens on — the port it got, when nudge dev had to take another
// one because its own was taken, not the one nudge.yaml asked for.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { linkUrl, publicBaseUrl } from '../../src/email/links.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
let running: Running | undefined;
let holder: Server | undefined;
let cwd: string | undefined;

afterAll(async () => {
  await running?.stop();
  await new Promise((resolve) => (holder ? holder.close(resolve) : resolve(undefined)));
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('a server that had to take another port', () => {
  it('puts that port in the links it makes', async () => {
    const taken = createServer();
    holder = taken;
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    cwd = await mkdtemp(path.join(tmpdir(), 'nudge-port-'));
    await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
    await writeFile(path.join(cwd, 'nudge.yaml'), `server: { port: ${port} }\n`);
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    running = await launch(project, {
      http: true,
      log: silentLog,
      idleMs: 20,
      anyPortIfTaken: true,
    });
    const got = new URL(running.url!);
    expect(got.port).not.toBe(String(port));
    expect(running.portTaken).toBe(port);
    expect(publicBaseUrl(project)).toBe(`http://127.0.0.1:${got.port}`);
    const link = linkUrl(project, {
      purpose: 'unsubscribe',
      contactId: crypto.randomUUID(),
      topic: 'news',
    });
    expect(link.startsWith(`${running.url}/email/unsubscribe/`)).toBe(true);
  });
});

describe('a server whose port is taken, outside nudge dev', () => {
  it('stops with the port, the host and what to do, not the socket error', async () => {
    const port = (holder!.address() as { port: number }).port;
    const project = await loadConfig({ cwd: cwd!, env: { DATABASE_URL: db.url } });
    await expect(launch(project, { http: true, log: silentLog, idleMs: 20 })).rejects.toThrow(
      `port ${port} on 127.0.0.1 is in use: another process (another nudge start?) listens there`,
    );
  });
});
