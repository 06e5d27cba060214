// `nudge plan`: what deploy would change, and any drift. Never writes.
import { renderPlan } from '../capture/render.js';
import { planChange, printHeader } from './capture.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, withSource } from './project.js';

export async function plan(options: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const project = await loadProject(options, io);
  return withSource(project, async (session) => {
    const { features, plan } = await planChange(project, session.sql);
    if (options.json) {
      io.out(
        JSON.stringify(
          {
            changes: plan.hasChanges,
            counts: plan.counts,
            drift: plan.driftCount,
            items: plan.items.map(({ sql: _sql, ...item }) => item),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    printHeader(io, 'plan', project, session, features);
    renderPlan(plan, io);
    if (plan.hasChanges) {
      io.out(
        session.readOnly
          ? io.colors.dim(
              'access is read-only: `nudge deploy --sql` prints this change as SQL to apply yourself.',
            )
          : io.colors.dim('Run `nudge deploy` to apply it.'),
      );
    }
    return 0;
  });
}
