// The stand-ins keep their port across starts (a replay goes to the URL a run
// was first sent to), and take another, saying so, when it is taken.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { startDemoReceiver } from './receiver.js';

const portOf = (url: string) => Number(new URL(url).port);

it('listens on the port kept from the last start, and keeps another when that one is taken', async () => {
  const portFile = path.join(tmpdir(), `nudge-stand-ins-${process.pid}-${Date.now()}.port`);
  const holder = createServer();
  try {
    const first = await startDemoReceiver({ portFile });
    await first.close();
    expect(first.portTaken).toBeUndefined();
    expect(Number((await readFile(portFile, 'utf8')).trim())).toBe(portOf(first.url));

    const again = await startDemoReceiver({ portFile });
    await again.close();
    expect(again.url).toBe(first.url);
    expect(again.portTaken).toBeUndefined();

    // Another process listens there now: another port, said, and kept for next time.
    await new Promise<void>((resolve) => holder.listen(portOf(first.url), '127.0.0.1', resolve));
    const moved = await startDemoReceiver({ portFile });
    await moved.close();
    expect(moved.portTaken).toBe(portOf(first.url));
    expect(moved.url).not.toBe(first.url);
    expect(Number((await readFile(portFile, 'utf8')).trim())).toBe(portOf(moved.url));

    // A file that holds no port is a first start.
    await writeFile(portFile, 'not a port\n');
    const fresh = await startDemoReceiver({ portFile });
    await fresh.close();
    expect(fresh.portTaken).toBeUndefined();
    expect(Number((await readFile(portFile, 'utf8')).trim())).toBe(portOf(fresh.url));
  } finally {
    holder.close();
    await rm(portFile, { force: true });
  }
});
