// The ports nudge dev keeps from one start to the next (the embedded
// server's, the stand-ins'): written in a file beside the demo's data, read
// back and listened on again while nobody else has them, so URLs printed or
// stored by an earlier start still reach the same place.
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:net';

/** The port kept in `file`, or undefined when there is none (no file, not a port). */
export async function keptPort(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const port = Number(text.trim());
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

/** Listens on `port` of `host` (0: any free one); false when another process has it. */
export function listenOn(server: Server, port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') resolve(false);
      else reject(error);
    };
    server.once('error', onError).once('listening', onListening).listen(port, host);
  });
}
