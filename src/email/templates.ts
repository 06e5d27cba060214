// Every email action's template is found and parses, checked when features
// are: a typo in `template:` is an error at that line in `nudge plan`,
// deploy and doctor, not a dead run on the day the
// email is due. (It also kept features/reads.ts from knowing which columns
// the template reads, so capture copied the whole row.)
import type { Renderer } from '../actions/render.js';
import type { Feature } from '../features/load.js';

/** Template name → what is wrong with it, for the templates these features' email actions name. */
export async function templateProblems(
  features: Feature[],
  templates: Pick<Renderer, 'templateVariables'>,
): Promise<Map<string, string>> {
  const problems = new Map<string, string>();
  const names = new Set<string>();
  for (const feature of features) {
    if (feature.status === 'draft') continue;
    for (const stage of feature.machine.stages.values())
      for (const action of stage.actions)
        if (action.kind === 'email') names.add((action.params as { template: string }).template);
  }
  for (const name of names) {
    try {
      await templates.templateVariables(name);
    } catch (error) {
      problems.set(name, (error as Error).message);
    }
  }
  return problems;
}

/** Where each email action whose template has a problem names it: `stages[i].do[j].email.template`. */
export function templateErrorsAt(
  feature: Feature,
  problems: ReadonlyMap<string, string>,
): { at: (string | number)[]; problem: string }[] {
  return [...feature.machine.stages.values()].flatMap((stage, i) =>
    stage.actions.flatMap((action, j) => {
      if (action.kind !== 'email') return [];
      const problem = problems.get((action.params as { template: string }).template);
      return problem ? [{ at: ['stages', i, 'do', j, 'email', 'template'], problem }] : [];
    }),
  );
}
