// Prints a plan the way terraform users expect to read one.
import type { Io } from '../cli/io.js';
import type { CaptureColumns } from './columns.js';
import { type Action, type Plan, SYMBOLS } from './plan.js';
import type { Loss } from './transports/port.js';

/** Said where changes were lost (a slot dropped with unread changes, or by hand). */
export const BACKFILL_HINT =
  '`nudge backfill <feature>` enters existing rows into a feature, as if just created';

/**
 * The line after a plan with changes, in `nudge plan` and on the dashboard:
 * how it is applied from there, or that deploy refuses it while it would
 * lose what a transport's objects hold (`losses`, planLosses), and the two
 * ways on. `warn`: a refusal, not a next step.
 */
export function afterPlanLine(
  losses: readonly Loss[],
  options: { readOnly: boolean; on: 'cli' | 'dashboard' },
): { text: string; warn: boolean } {
  const command = options.readOnly ? 'nudge deploy --sql' : 'nudge deploy';
  const [loss] = losses;
  if (loss) {
    const { where } = loss.refusal('deploy').loss;
    const button = options.on === 'dashboard' && !options.readOnly;
    const how = button ? 'the warning above says how' : `\`${command}\` says how when it refuses`;
    const discard = button ? 'use its discard button' : `run \`${command} --discard-unread\``;
    return {
      warn: true,
      text: `Deploy refuses this plan while ${where} holds changes no engine has read: drain it first (${how}), or ${discard} to lose them.`,
    };
  }
  if (options.readOnly)
    return {
      warn: false,
      text: 'access is read-only: `nudge deploy --sql` prints this change as SQL to apply yourself.',
    };
  return {
    warn: false,
    text: options.on === 'cli' ? 'Run `nudge deploy` to apply it.' : 'Deploy applies it.',
  };
}

export function renderPlan(plan: Plan, io: Io, options: { showUnchanged?: boolean } = {}): void {
  const c = io.colors;
  const paint: Record<Action, (text: string) => string> = {
    create: c.green,
    replace: c.yellow,
    drop: c.red,
    unchanged: c.dim,
  };
  // With changes, they come first, in full; what stays follows, a line each
  // (its columns were shown when it was made), so a change is not lost among
  // twenty unchanged captures. Without changes, everything in full.
  const changed = plan.items.filter((item) => item.action !== 'unchanged');
  const kept = plan.items.filter(
    (item) => item.action === 'unchanged' && options.showUnchanged !== false,
  );
  const brief = changed.length > 0;
  const shown = [...changed, ...kept];
  const width = Math.max(0, ...shown.map((item) => `${item.kind} ${item.subject}`.length));
  for (const item of shown) {
    const label = `${item.kind} ${item.subject}`.padEnd(width);
    io.out(
      `  ${paint[item.action](`${SYMBOLS[item.action]} ${label}`)}  ${c.dim(item.detail ?? '')}`.trimEnd(),
    );
    for (const drift of item.drift ?? []) io.out(`      ${c.magenta('! drift:')} ${drift}`);
    if (item.missed)
      io.out(`      ${c.dim(`changes not captured are not replayed: ${BACKFILL_HINT}`)}`);
    if (item.warning) io.out(`      ${c.red(`! ${item.warning.label}:`)} ${item.warning.text}`);
    const quiet = brief && item.action === 'unchanged' && !item.drift?.length && !item.warning;
    if (item.columns && !quiet)
      for (const line of columnLines(item.columns)) io.out(`      ${c.dim(line)}`);
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

/**
 * What a capture copies, in two lines:
 *   captures id, email, last_sign_in_at (what its features read)
 *   left out: encrypted_password, recovery_token (credentials); ssn (capture.exclude_columns); 9 more not used
 */
export function columnLines(columns: CaptureColumns): string[] {
  const copied = columns.copied.length ? columns.copied.join(', ') : 'no columns';
  const first = columns.all
    ? `captures ${copied} (all it may: ${columns.all})`
    : `captures ${copied} (what its features read)`;
  const groups = new Map<string, string[]>();
  for (const { column, reason } of columns.excluded) {
    groups.set(reason, [...(groups.get(reason) ?? []), column]);
  }
  const reasons = [...groups].map(([reason, names]) =>
    reason === 'not used'
      ? names.length <= 6
        ? `${names.join(', ')} (not used)`
        : `${names.length} more not used`
      : `${names.join(', ')} (${reason === 'credential' ? 'credentials' : reason})`,
  );
  return reasons.length ? [first, `left out: ${reasons.join('; ')}`] : [first];
}
