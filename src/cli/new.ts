// `nudge new "<sentence>"`: a draft feature from plain English, through the
// model configured under `ai:` (src/ai/). Reads the live schema (names and
// types only), checks each answer as `nudge plan` does, saves the valid one
// with status: draft, prints it and backtests it over the last 30 days.
// Never deploys.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { draftContext } from '../ai/context.js';
import { draftFeature, MAX_REPAIRS } from '../ai/draft.js';
import { aiEndpointOf, type Sleep } from '../ai/endpoint.js';
import { checkFeatureText, featureFilePath } from '../ai/validate.js';
import { NudgeError } from '../errors.js';
import { Catalog } from '../source/catalog.js';
import { redactUrl, sourceError } from '../source/connect.js';
import { type Analysis, allTables, analyzeDatabase } from '../source/introspect.js';
import { backtest } from './backtest.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject, withSource } from './project.js';

/** The window the new draft is tried on. */
const BACKTEST_SINCE = '30d';

export interface NewOptions extends GlobalOptions {
  force?: boolean;
}

export async function newFeature(
  sentence: string,
  options: NewOptions,
  io: Io,
  testing: { sleep?: Sleep } = {},
): Promise<number> {
  if (!sentence.trim()) {
    throw new NudgeError(
      'say what the feature should do',
      'nudge new "email users who signed up a week ago and never created a project"',
    );
  }
  const project = await loadProject(options, io);
  const endpoint = aiEndpointOf(project);
  const c = io.colors;
  const draft = await withSource(project, async ({ sql }) => {
    let analysis: Analysis;
    try {
      analysis = await analyzeDatabase(sql, { countBelowBytes: 0 });
    } catch (error) {
      throw sourceError(error, 'cannot read the database schema');
    }
    const catalog = new Catalog(allTables(analysis));
    const drafted = await draftFeature({
      sentence,
      endpoint,
      context: await draftContext(project, analysis),
      check: async (yaml, fileName) =>
        (
          await checkFeatureText(project, sql, catalog, yaml, fileName, {
            ...(options.force ? { replace: true } : {}),
          })
        ).errors.map((e) => e.message),
      ...(testing.sleep ? { sleep: testing.sleep } : {}),
      onAttempt: (repair, problems) =>
        io.err(
          c.dim(
            repair === 0
              ? `Asking ${endpoint.model} (${redactUrl(endpoint.baseUrl)}); only the schema is sent, never rows…`
              : `Repair ${repair} of ${MAX_REPAIRS}: sending back ${problems.length} problem${problems.length === 1 ? '' : 's'}…`,
          ),
        ),
    });
    const target = path.join(project.featuresDir, drafted.fileName);
    await mkdir(project.featuresDir, { recursive: true });
    await writeFile(target, drafted.yaml, { flag: options.force ? 'w' : 'wx' });
    return drafted;
  });
  io.out(draft.yaml.trimEnd());
  io.out('');
  io.out(
    `${c.green('✓')} Saved ${featureFilePath(project, draft.fileName)}: status draft, not deployed` +
      (draft.repairs
        ? ` (valid after ${draft.repairs} repair${draft.repairs === 1 ? '' : 's'})`
        : ''),
  );
  io.out('');
  await backtestDraft(draft.name, options, io);
  io.out('');
  io.out(c.dim('Next: read it, run `nudge plan`, then set status: active and `nudge deploy`.'));
  return 0;
}

/**
 * The saved draft over the last 30 days, as `nudge backtest` reports it. The
 * draft is kept whatever happens here: a backtest that cannot run (no engine
 * store in read-only mode, say) is reported as skipped, with why.
 */
async function backtestDraft(name: string, options: NewOptions, io: Io): Promise<void> {
  try {
    await backtest([name], { ...options, since: BACKTEST_SINCE }, io);
  } catch (error) {
    if (!(error instanceof NudgeError)) throw error;
    io.out(
      io.colors.yellow(
        `Backtest skipped: ${error.message}${error.hint ? ` (${error.hint})` : ''}. Try \`nudge backtest ${name}\` later.`,
      ),
    );
  }
}
