// Every email action's template, and every one a split variant sends
// instead, is found and parses, checked when features are: a typo in
// `template:` is an error at that line in `nudge plan`, deploy and doctor,
// not a dead run on the day the email is due. (It also kept
// features/reads.ts from knowing which columns the template reads, so
// capture copied the whole row.) A variable the template reads that no
// email is given (`{{ contct.first_name }}`) is one too: it renders empty.
import { type Renderer, TEMPLATE_VARIABLES } from '../actions/render.js';
import type { Feature } from '../features/load.js';
import { didYouMean } from '../suggest.js';

/** Template name → what is wrong with it, for the templates these features' email actions name. */
export async function templateProblems(
  features: Feature[],
  templates: Pick<Renderer, 'templateVariables'>,
): Promise<Map<string, string>> {
  const problems = new Map<string, string>();
  const names = new Set<string>();
  for (const feature of features) {
    if (feature.status === 'draft') continue;
    for (const { name } of templatesNamed(feature)) names.add(name);
  }
  for (const name of names) {
    try {
      const unknown = unknownVariables(await templates.templateVariables(name));
      if (unknown.length > 0) problems.set(name, unknownVariablesText(name, unknown));
    } catch (error) {
      problems.set(name, (error as Error).message);
    }
  }
  return problems;
}

/** The variables at the root of `read` that an email template is not given, each once. */
function unknownVariables(read: Awaited<ReturnType<Renderer['templateVariables']>>): string[] {
  const roots = read.map(([root]) => root).filter((root) => typeof root === 'string');
  return [...new Set(roots)].filter((root) => !TEMPLATE_VARIABLES.includes(root));
}

function unknownVariablesText(name: string, unknown: string[]): string {
  const said = unknown.map((root) => `"${root}"${didYouMean(root, TEMPLATE_VARIABLES)}`);
  const [what, renders] =
    unknown.length === 1 ? ['an unknown variable', 'renders'] : ['unknown variables', 'render'];
  return `email template "${name}" reads ${what}, ${said.join(', ')}, which ${renders} empty; expected one of ${TEMPLATE_VARIABLES.join(', ')}`;
}

/**
 * Where each template with a problem is named: `stages[i].do[j].email.template`,
 * `stages[i].split[k].with.email.template`.
 */
export function templateErrorsAt(
  feature: Feature,
  problems: ReadonlyMap<string, string>,
): { at: (string | number)[]; problem: string }[] {
  return templatesNamed(feature).flatMap(({ at, name }) => {
    const problem = problems.get(name);
    return problem ? [{ at, problem }] : [];
  });
}

/** The templates a feature's email actions name, and those its split variants send instead. */
function templatesNamed(feature: Feature): { at: (string | number)[]; name: string }[] {
  const stages = [...feature.machine.stages.values()];
  const named = stages.flatMap((stage, i) =>
    stage.actions.flatMap((action, j) =>
      action.kind === 'email'
        ? [{ at: ['stages', i, 'do', j, 'email', 'template'], name: action.params.template }]
        : [],
    ),
  );
  const split = feature.experiment?.split;
  const i = split ? stages.findIndex((stage) => stage.name === split.stage) : -1;
  // A split of a stage the machine does not have (a feature not read from
  // its file) has no place in the file to name its templates at.
  if (!split || i === -1) return named;
  split.variants.forEach((variant, k) => {
    const name = variant.overrides.email?.template;
    if (typeof name === 'string')
      named.push({ at: ['stages', i, 'split', k, 'with', 'email', 'template'], name });
  });
  return named;
}
