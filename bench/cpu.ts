// CPU time from /proc, for benchmarks that split a run's CPU between
// processes: the engine, the server and its backends, the walsender that
// decodes a slot, a consumer in a process of its own.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** The postmaster's pid of a bench database's server (bench/database.ts's `dir`), or 0. */
export async function postmasterPid(dir: string): Promise<number> {
  const text = await readFile(path.join(dir, 'pg/postmaster.pid'), 'utf8').catch(() => '');
  return Number(text.split('\n')[0]) || 0;
}

/**
 * CPU time (ms) used so far by process `pid` and its children (PostgreSQL's
 * backends and helpers are children of the postmaster), from /proc; undefined
 * where there is no /proc. Backends that exited are not counted: the
 * engine's and this script's connections live through a phase.
 */
export async function cpuMs(pid: number): Promise<number | undefined> {
  const stat = async (p: string) => {
    const text = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  };
  const own = await stat(String(pid));
  if (!own) return undefined;
  let ticks = own.ticks;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = await stat(entry);
    if (child?.ppid === pid) ticks += child.ticks;
  }
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** CPU time (ms) of the postmaster's children whose title starts `postgres: walsender` (a slot's decoding). */
export async function walsenderMs(postmaster: number): Promise<number> {
  let ticks = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!text) continue;
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) !== postmaster) continue;
    const title = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (title.startsWith('postgres: walsender')) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / 100;
}
