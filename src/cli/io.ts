// What a command writes to and reads from. Commands never touch process.*
// directly, so tests run them in-process and read their output.
import pc from 'picocolors';
import { ConfigErrors, NudgeError } from '../errors.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (progress bars, colour, prompts). */
  isTTY: boolean;
  colors: ReturnType<typeof pc.createColors>;
  cwd: string;
  env: Record<string, string | undefined>;
  /** Asks a yes/no question on the terminal; undefined when there is no terminal to ask. */
  confirm?: (question: string) => Promise<boolean>;
}

export function processIo(): Io {
  const isTTY = !!process.stdout.isTTY;
  const color = isTTY && !process.env.NO_COLOR && process.env.CI !== 'true';
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    isTTY,
    colors: pc.createColors(color),
    cwd: process.cwd(),
    env: process.env,
    ...(isTTY && process.stdin.isTTY ? { confirm: askOnTerminal } : {}),
  };
}

async function askOnTerminal(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** An Io that records output, for tests. */
export function memoryIo(options: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: Io = {
    out: (text) => stdout.push(text),
    err: (text) => stderr.push(text),
    isTTY: false,
    colors: pc.createColors(false),
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? {},
  };
  return {
    io,
    stdout: () => stdout.join('\n'),
    stderr: () => stderr.join('\n'),
  };
}

/**
 * One line plus a hint; for config problems one line each, with its own hint
 * under it (a hint said once, under the first problem that has it). A stack
 * only with --debug.
 */
export function printError(io: Io, error: unknown, debug: boolean): number {
  const c = io.colors;
  if (error instanceof NudgeError) {
    const problems = error instanceof ConfigErrors ? error.errors : [error];
    const said = new Set<string>();
    for (const problem of problems) {
      io.err(`${c.red('✗')} ${problem.message}`);
      if (problem.hint && !said.has(problem.hint)) {
        said.add(problem.hint);
        io.err(`  ${c.dim('hint:')} ${problem.hint}`);
      }
    }
    if (debug && error.stack) io.err(c.dim(error.stack));
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.err(`${c.red('✗')} ${message}`);
  if (debug && error instanceof Error && error.stack) io.err(c.dim(error.stack));
  else io.err(`  ${c.dim('hint:')} this is unexpected; run again with --debug for details`);
  return 1;
}
