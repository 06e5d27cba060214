// `nudge doctor`'s "Capture failures": rows a capture trigger could not
// capture, which wait in nudge.failed_events and which no feature has seen:
// how many, on which table and operation, since when, the latest error, and
// the way out (repair the cause, then `nudge capture retry`). A failure, not
// a warning: each is a committed change the features have not acted on, and
// the cause (a broken enrichment, say) keeps failing every new write the
// same way until it is repaired.
import {
  captureName,
  failedAtText,
  latestErrorText,
  latestGroup,
  readFailures,
} from '../capture/failures/summary.js';
import type { Sql } from '../source/connect.js';
import { plural } from '../words.js';
import type { Say } from './checks.js';

const LABEL = 'Capture failures';

export async function captureFailuresCheck({
  sql,
  say,
  readOnly,
}: {
  sql: Sql;
  say: Say;
  readOnly: boolean;
}): Promise<void> {
  const failures = await readFailures(sql);
  if (!failures.table) {
    // No schema deployed: the Nudge schema and Nudge capture lines say so.
    if (!failures.deployed) return;
    return say(
      'fail',
      LABEL,
      'table nudge.failed_events is missing: a capture that fails now loses its rows (the trigger only raises a WARNING)',
      `${readOnly ? 'set access: read-write, then ' : ''}run nudge deploy (it makes the table again)`,
    );
  }
  if (failures.rows === 0) return say('ok', LABEL, 'none: every row was captured');
  const latest = latestGroup(failures.groups)!;
  const since = failedAtText(failures.groups[0]!.since);
  const fix = `repair what the error names (an enrichment's table or column, a privilege, a type), then run nudge capture retry${readOnly ? ' with access: read-write' : ''} to deliver them (nudge capture retry --dry-run lists them first)`;
  const rows = `${plural(failures.rows, 'row')} not captured`;
  if (failures.groups.length === 1) {
    const message = `${rows} on ${captureName(latest)} since ${since}: no feature has seen them; latest error: ${latestErrorText(latest)}`;
    return say('fail', LABEL, message, fix);
  }
  // Several captures: one line each under the count.
  const message = `${rows} since ${since}, on the captures below: no feature has seen them; latest error, on ${captureName(latest)}: ${latestErrorText(latest)}`;
  const items = failures.groups.map(
    (g) =>
      `${captureName(g)}: ${plural(g.rows, 'row')} since ${failedAtText(g.since)}, latest error ${latestErrorText(g)}`,
  );
  say('fail', LABEL, message, fix, items);
}
