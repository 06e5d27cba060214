// Plan and Deploy on the Features page: the diff `nudge plan` prints (the
// same files, the same live database, the same renderer), and Deploy, which
// applies exactly the plan shown (`nudge deploy --yes`); in read-only mode
// Deploy is refused and the reason shown.
import { useState } from 'react';
import type { CapturePlan } from '../../../src/client/index.js';
import { nudge } from '../api.js';
import { Problem } from '../ui.js';

export function PlanAndDeploy() {
  const [plan, setPlan] = useState<CapturePlan>();
  const [busy, setBusy] = useState<'plan' | 'deploy'>();
  const [problem, setProblem] = useState<unknown>();
  const [done, setDone] = useState<string>();

  const showPlan = async () => {
    setBusy('plan');
    setProblem(undefined);
    try {
      setPlan(await nudge.plan());
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(undefined);
    }
  };
  const deploy = async () => {
    if (!plan) return;
    setBusy('deploy');
    setProblem(undefined);
    try {
      const result = await nudge.deploy(plan.plan);
      const { create, replace, drop } = result.counts;
      setDone(
        result.deployment === null
          ? 'Nothing to do: the database already matches the features.'
          : `Deployment #${result.deployment}: ${create} created, ${replace} replaced, ${drop} dropped.`,
      );
      setPlan(await nudge.plan());
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="plan">
      <div className="heading">
        <h2 id="plan">Plan and deploy</h2>
        <button type="button" onClick={showPlan} disabled={busy !== undefined}>
          {busy === 'plan' ? 'Planning…' : plan ? 'Plan again' : 'Plan'}
        </button>
        {plan && (
          <button
            type="button"
            className="primary"
            onClick={deploy}
            disabled={busy !== undefined || plan.refused !== null || !plan.changes}
          >
            {busy === 'deploy' ? 'Deploying…' : 'Deploy'}
          </button>
        )}
      </div>
      <Problem error={problem} />
      {done && (
        <p className="note" role="status">
          {done}
        </p>
      )}
      {plan?.refused && (
        <p className="note" data-testid="deploy-refused">
          Deploy is refused: {plan.refused}
        </p>
      )}
      {plan && (
        <pre className="yaml" data-testid="plan-text">
          {plan.text}
        </pre>
      )}
    </section>
  );
}
