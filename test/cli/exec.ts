// A child process run to its end, as a terminal would show it: its exit code
// and what it printed, a non-zero exit included (execFile rejects on one).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Exited {
  code: number;
  stdout: string;
  stderr: string;
}

export async function exited(
  file: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Exited> {
  try {
    const { stdout, stderr } = await run(file, args, options);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as Exited;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
