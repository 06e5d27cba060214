// One feature: its status with the live pause switch (every running engine
// follows it within about a second), trigger, where its capture is deployed
// (or what the next deploy changes for it) with Plan and Deploy, the stage
// diagram drawn from the compiled state machine with the journeys now in
// each stage, and its YAML: the file on disk, said to be not deployed yet
// when it differs from the deployed one (the lines above are as the server
// read it).
import { useState } from 'react';
import type { FeatureDetail } from '../../../src/client/index.js';
import { nudge } from '../api.js';
import { CaptureLine } from '../deploy-state.js';
import { Diagram } from '../diagram.js';
import { count } from '../format.js';
import { Link, navigate } from '../router.js';
import { Badge, Choice, Problem, Time, useLoad } from '../ui.js';
import { PlanAndDeploy } from './Deploy.js';
import { FailingActions, WINDOWS } from './Features.js';

export function Feature({ name, window }: { name: string; window?: string }) {
  const { data, error, reload } = useLoad(
    () => nudge.features.get(name, window ? { window } : {}),
    `feature ${name} ${window ?? ''}`,
    5000,
  );
  return (
    <section>
      <p className="crumbs">
        <Link to={{ page: 'features', ...(window ? { window } : {}) }}>Features</Link> /
      </p>
      <Problem error={error} />
      {data && <Detail feature={data} window={window} onChange={reload} />}
    </section>
  );
}

function Detail(props: {
  feature: FeatureDetail;
  window: string | undefined;
  onChange: () => void;
}) {
  const { feature, window } = props;
  // The file on disk is not what was deployed: new since, or changed since.
  const notDeployed = feature.deploy.state === 'not_deployed' || feature.deploy.file_changed;
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const toggle = async () => {
    setBusy(true);
    setProblem(undefined);
    try {
      await (feature.paused_live
        ? nudge.features.resume(feature.name)
        : nudge.features.pause(feature.name));
      props.onChange();
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <div className="heading">
        <h1>
          {feature.name} <Badge kind={feature.status} />
        </h1>
        {feature.status !== 'draft' && (
          <button
            type="button"
            onClick={toggle}
            disabled={busy}
            className={feature.paused_live ? 'primary' : ''}
          >
            {feature.paused_live ? 'Resume' : 'Pause'}
          </button>
        )}
      </div>
      <Problem error={problem} />
      {feature.description && <p>{feature.description}</p>}
      {feature.paused_live && (
        <p className="note" data-testid="paused-note">
          Paused by {feature.paused_live.by} <Time at={feature.paused_live.at} relative />: its
          events are skipped with the reason “paused”.
        </p>
      )}
      {feature.paused_in_file && (
        <p className="note">
          Its file says <code>status: paused</code>; only the file can resume it.
        </p>
      )}
      <dl className="facts">
        <dt>Trigger</dt>
        <dd className="code">{feature.trigger}</dd>
        <dt>Capture</dt>
        <dd>
          <CaptureLine deploy={feature.deploy} refused={feature.deploy_refused} />
        </dd>
        {feature.exit && (
          <>
            <dt>Exits when</dt>
            <dd className="code">{feature.exit}</dd>
          </>
        )}
        {feature.failing.dead + feature.failing.retrying > 0 && (
          <>
            <dt>Actions failing</dt>
            <dd>
              <FailingActions feature={feature} />
            </dd>
          </>
        )}
        <dt>Journeys</dt>
        <dd>
          {feature.journeys ? (
            <>
              {count(feature.counts.entered)} entered, {count(feature.counts.completed)} completed,{' '}
              {count(feature.counts.exited)} exited
            </>
          ) : (
            <span className="muted">
              none: no contact mapping, so each event runs its actions without a journey
            </span>
          )}
          {' · '}
          <Choice
            label="in"
            name="window"
            value={window ?? ''}
            options={WINDOWS}
            onChange={(value) =>
              navigate({ page: 'feature', name: feature.name, ...(value ? { window: value } : {}) })
            }
          />
        </dd>
        <dt>Decisions</dt>
        <dd>
          <Link to={{ page: 'logs', filter: { feature: feature.name } }}>
            Logs of {feature.name}
          </Link>
        </dd>
      </dl>
      <PlanAndDeploy onDeployed={props.onChange} />
      <h2>Stages</h2>
      <Diagram initial={feature.initial} stages={feature.stages} counts={feature.counts.stages} />
      <h2>
        YAML <span className="muted small">the file on disk, {feature.file}</span>
        {notDeployed && (
          <>
            {' '}
            <Badge kind="paused">not deployed yet</Badge>
          </>
        )}
      </h2>
      {notDeployed && (
        <p className="note" data-testid="yaml-not-deployed">
          {feature.deploy.deployment
            ? `It changed since deployment #${feature.deploy.deployment.id}. `
            : 'No deployment records this feature yet. '}
          The trigger and stages above are as the server read the file (at its start or the last
          deploy); Plan and deploy apply the file as it is here.
        </p>
      )}
      {feature.yaml ? (
        <pre className="yaml">{feature.yaml}</pre>
      ) : (
        <p className="muted">The file could not be read.</p>
      )}
    </>
  );
}
