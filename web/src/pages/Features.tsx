// Features: each feature's status, deploy state (deploy-state.tsx; why it is
// unknown said once above the table when every feature shares it), trigger
// and journey counts for a chosen window (the window is part of the URL),
// one card per feature at a phone's width; Plan and Deploy (Deploy.tsx).
import type { FeatureSummary } from '../../../src/client/index.js';
import { nudge } from '../api.js';
import { DeployLink, sharedUnknownReason, UnknownDeploys } from '../deploy-state.js';
import { count } from '../format.js';
import { Link, navigate } from '../router.js';
import { Badge, Choice, Loading, Problem, useLoad } from '../ui.js';
import { PlanAndDeploy } from './Deploy.js';

export const WINDOWS = [
  ['', 'all time'],
  ['24h', 'last 24 h'],
  ['7d', 'last 7 days'],
  ['30d', 'last 30 days'],
] as const;

export function Features({ window }: { window?: string }) {
  const { data, error, reload } = useLoad(
    () => nudge.features.all(window ? { window } : {}),
    `features ${window ?? ''}`,
    5000,
  );
  // Every deploy state unknown for one reason (a feature file that does not
  // check): said once above the table, each row keeping its badge.
  const unknown = data && sharedUnknownReason(data);
  return (
    <section>
      <div className="heading">
        <h1>Features</h1>
        <Choice
          label="Counts for"
          name="window"
          value={window ?? ''}
          options={WINDOWS}
          onChange={(value) => navigate({ page: 'features', ...(value ? { window: value } : {}) })}
        />
      </div>
      <Problem error={error} />
      <Loading data={data} error={error} />
      {data && data.length === 0 && (
        <p className="muted">No features yet: nudge init --template welcome-drip writes one.</p>
      )}
      {unknown && <UnknownDeploys reason={unknown} />}
      {data && data.length > 0 && (
        <div className="scroll">
          <table className="stack">
            <thead>
              <tr>
                <th>Feature</th>
                <th>Status</th>
                <th>Deploy</th>
                <th>Trigger</th>
                <th className="num">Entered</th>
                <th>Now in stage</th>
                <th
                  className="num"
                  title="Journeys that went through their last stage. Whether its actions were delivered is in Actions failing."
                >
                  Completed
                </th>
                <th
                  className="num"
                  title="Journeys that ended before their last stage: exit.when held, an exit action ran, an until did not hold in time, the stage was removed, or a restart began a new journey."
                >
                  Exited
                </th>
                <th>Actions failing</th>
              </tr>
            </thead>
            <tbody>
              {data.map((feature) => (
                <tr key={feature.name} data-feature={feature.name}>
                  <td data-label="Feature">
                    <Link
                      to={{ page: 'feature', name: feature.name, ...(window ? { window } : {}) }}
                    >
                      {feature.name}
                    </Link>
                  </td>
                  <td data-label="Status">
                    <Badge kind={feature.status} />
                  </td>
                  <td data-label="Deploy">
                    <DeployLink feature={feature} window={window} />
                  </td>
                  <td data-label="Trigger" className="code">
                    {feature.trigger}
                  </td>
                  {feature.journeys ? (
                    <>
                      <td data-label="Entered" className="num">
                        {count(feature.counts.entered)}
                      </td>
                      <td data-label="Now in stage">
                        {Object.entries(feature.counts.stages)
                          .map(([stage, n]) => `${stage} ${count(n)}`)
                          .join(', ') || <span className="muted">—</span>}
                      </td>
                      <td data-label="Completed" className="num">
                        {count(feature.counts.completed)}
                      </td>
                      <td data-label="Exited" className="num">
                        {count(feature.counts.exited)}
                      </td>
                    </>
                  ) : (
                    <td colSpan={4} data-label="Journeys" className="muted">
                      no contact mapping: each event runs its actions, without a journey (see Logs)
                    </td>
                  )}
                  <td data-label="Actions failing">
                    <FailingActions feature={feature} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <PlanAndDeploy onDeployed={reload} />
    </section>
  );
}

/** A feature's dead and retrying action runs, linked to them on the Actions page; — when none. */
export function FailingActions({ feature }: { feature: FeatureSummary }) {
  const { dead, retrying } = feature.failing;
  if (dead + retrying === 0) return <span className="muted">—</span>;
  const said = [dead ? `${count(dead)} dead` : '', retrying ? `${count(retrying)} retrying` : ''];
  return (
    <Link to={{ page: 'actions', feature: feature.name, ...(dead ? {} : { status: 'retrying' }) }}>
      {said.filter(Boolean).join(', ')}
    </Link>
  );
}
