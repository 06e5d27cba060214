// What the runtime tests share: a webhook sink that deduplicates by
// webhook-id the way a Standard Webhooks receiver should (and counts what it
// dropped), the engine run as the `nudge start` child process, a seeded
// random source, and waiting on a condition with a deadline.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';

export const BIN = path.resolve('dist/cli/main.js');

export { waitFor } from '../harness/wait.js';

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Sink {
  url: string;
  recorder: Recorder;
  /** webhook-id → the body of the delivery the sink applied (the first one it answered 2xx). */
  applied: Map<string, unknown>;
  /** webhook-id → deliveries answered 2xx, the applied one included. */
  accepted: Map<string, number>;
  /** Requests the sink answered with a scripted 503. */
  refused: number;
  /** 2xx deliveries of an id already applied: the re-sends a receiver must drop. */
  duplicates(): number;
  /**
   * Holds every request from now on unanswered (the sender waits on it),
   * until the returned function is called: then they are answered as usual.
   */
  holdAnswers(): () => void;
  /** Requests held unanswered so far. */
  held: number;
  close(): Promise<void>;
}

/**
 * A receiver that applies each webhook-id once and answers 200 at once. With
 * `refuse`, it answers 503 to the first delivery of the ids it picks, so the
 * engine's retries are part of what is tested.
 */
export async function startSink(refuse: (id: string) => boolean = () => false): Promise<Sink> {
  const applied = new Map<string, unknown>();
  const accepted = new Map<string, number>();
  const seen = new Set<string>();
  let gate: Promise<void> | undefined;
  const sink = {
    applied,
    accepted,
    refused: 0,
    held: 0,
    duplicates: () => [...accepted.values()].reduce((sum, n) => sum + n - 1, 0),
    holdAnswers() {
      let release = () => {};
      gate = new Promise((resolve) => {
        release = () => {
          gate = undefined;
          resolve();
        };
      });
      return release;
    },
  };
  const recorder = await startRecorder(async (request) => {
    const id = String(request.headers['webhook-id'] ?? '');
    request.body = ''; // keep the recorder's memory small: the sink keeps what it needs
    if (gate) {
      sink.held++;
      await gate;
    }
    if (!id) return { status: 400, body: { error: 'no webhook-id' } };
    if (!seen.has(id)) {
      seen.add(id);
      if (refuse(id)) {
        sink.refused++;
        return { status: 503, body: { error: 'try again' } };
      }
    }
    accepted.set(id, (accepted.get(id) ?? 0) + 1);
    if (!applied.has(id)) applied.set(id, request.json);
    return { status: 200, body: { ok: true } };
  });
  return Object.assign(sink, {
    url: recorder.url,
    recorder,
    close: () => recorder.close(),
  });
}

export interface EngineProcess {
  child: ChildProcess;
  /** Resolves once it says it is running; rejects if it exits first. */
  ready: Promise<void>;
  /** Everything it printed (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
}

/** Spawns `node dist/cli/main.js start` (or `worker`) in `cwd`. */
export function spawnEngine(
  cwd: string,
  env: Record<string, string>,
  command: 'start' | 'worker' = 'start',
): EngineProcess {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first`);
  const child = spawn(process.execPath, [BIN, command], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (output.includes(command === 'start' ? 'Nudge is running' : 'Nudge worker is running'))
        resolve();
    };
    child.stdout?.on('data', check);
    void exited.then((code) =>
      reject(new Error(`nudge ${command} exited (${code}) before it was running:\n${output}`)),
    );
  });
  ready.catch(() => {}); // a kill during startup is expected; callers await ready when they need it
  return {
    child,
    ready,
    output: () => output,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
