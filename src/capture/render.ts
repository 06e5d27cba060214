// Prints a plan the way terraform users expect to read one.
import type { Io } from '../cli/io.js';
import type { Action, Plan } from './plan.js';

const SYMBOLS: Record<Action, string> = { create: '+', replace: '~', drop: '-', unchanged: '=' };

export function renderPlan(plan: Plan, io: Io, options: { showUnchanged?: boolean } = {}): void {
  const c = io.colors;
  const paint: Record<Action, (text: string) => string> = {
    create: c.green,
    replace: c.yellow,
    drop: c.red,
    unchanged: c.dim,
  };
  const shown = plan.items.filter(
    (item) => options.showUnchanged !== false || item.action !== 'unchanged',
  );
  const width = Math.max(0, ...shown.map((item) => `${item.kind} ${item.subject}`.length));
  for (const item of shown) {
    const label = `${item.kind} ${item.subject}`.padEnd(width);
    io.out(
      `  ${paint[item.action](`${SYMBOLS[item.action]} ${label}`)}  ${c.dim(item.detail ?? '')}`.trimEnd(),
    );
    for (const drift of item.drift ?? []) io.out(`      ${c.magenta('! drift:')} ${drift}`);
  }
  const { create, replace, drop, unchanged } = plan.counts;
  const drift = plan.driftCount ? ` ${c.magenta(`Drift repaired: ${plan.driftCount}.`)}` : '';
  io.out('');
  io.out(
    plan.hasChanges
      ? `Plan: ${create} to create, ${replace} to replace, ${drop} to drop, ${unchanged} unchanged.${drift}`
      : `No changes. The database matches the features (${unchanged} unchanged).`,
  );
}
