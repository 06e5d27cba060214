// Plan and Deploy on the Features page: the diff `nudge plan` prints (the
// same files, the same live database, the same renderer), and Deploy, which
// applies exactly the plan shown (`nudge deploy --yes`); in read-only mode
// Deploy is refused and the reason shown. A plan that drops a replication
// slot still holding changes no engine has read warns before Deploy; the
// server refuses such a deploy (409 unread_slot), and the page then offers
// the two ways forward: drain the slot first, or a button that says what it
// discards and deploys again with discardUnread. A deploy refused because
// the plan changed since it was shown (409 plan_changed: a feature file or
// the database changed) fetches the new plan and shows it at once, saying
// so; Deploy then deploys that one. Nothing is retried unasked, and nothing
// is deployed before the page has asked (how many changes, to which
// database) and been told yes. A deploy made, the page is told
// (`onDeployed`), so it reads its features again at once.
import { useState } from 'react';
import {
  type CapturePlan,
  NudgeApiError,
  type UnreadSlot,
  UnreadSlotApiError,
} from '../../../src/client/index.js';
import { plural } from '../../../src/words.js';
import { nudge } from '../api.js';
import { Confirm, Problem } from '../ui.js';

export function PlanAndDeploy({ onDeployed }: { onDeployed?: () => void } = {}) {
  const [plan, setPlan] = useState<CapturePlan>();
  const [busy, setBusy] = useState<'plan' | 'deploy'>();
  const [problem, setProblem] = useState<unknown>();
  const [done, setDone] = useState<string>();
  // The slots of the last deploy refused for unread changes (fresher than the plan's).
  const [refusal, setRefusal] = useState<UnreadSlot[]>();
  // The deploy asked about and waiting for its yes: as planned, or discarding unread changes.
  const [asking, setAsking] = useState<'deploy' | 'discard'>();
  // The source database's name, for the question (the Overview's; none if it could not be read).
  const [database, setDatabase] = useState<string>();
  // The plan shown replaced the one a deploy named, which the server refused as changed.
  const [changed, setChanged] = useState(false);

  const showPlan = async () => {
    setBusy('plan');
    setProblem(undefined);
    setRefusal(undefined);
    setAsking(undefined);
    setChanged(false);
    try {
      // The name is read beside the plan and both are shown together, so the
      // question never opens on "the source database" and then changes its
      // words; an Overview that cannot be read leaves those words.
      const [next, name] = await Promise.all([
        nudge.plan(),
        database ??
          nudge.overview().then(
            ({ source }) => ('database' in source ? source.database : undefined),
            () => undefined,
          ),
      ]);
      setDatabase(name);
      setPlan(next);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(undefined);
    }
  };
  const deploy = async (discardUnread: boolean) => {
    if (!plan) return;
    setAsking(undefined);
    setBusy('deploy');
    setProblem(undefined);
    setChanged(false);
    try {
      const result = await nudge.deploy(plan.plan, { discardUnread });
      const { create, replace, drop } = result.counts;
      setRefusal(undefined);
      setDone(
        result.deployment === null
          ? 'Nothing to do: the database already matches the features.'
          : `Deployment #${result.deployment}: ${create} created, ${replace} replaced, ${drop} dropped.`,
      );
      try {
        setPlan(await nudge.plan());
      } finally {
        // After the new plan, which the page's read then reuses (no second plan).
        onDeployed?.();
      }
    } catch (error) {
      if (error instanceof UnreadSlotApiError) setRefusal(error.slots);
      else if (error instanceof NudgeApiError && error.code === 'plan_changed') {
        // The plan named is not the plan any more: show the new one (its
        // unread slots are the plan's own), which Deploy then names.
        setRefusal(undefined);
        try {
          setPlan(await nudge.plan());
          setChanged(true);
        } catch (planError) {
          setProblem(planError);
        }
      } else setProblem(error);
    } finally {
      setBusy(undefined);
    }
  };

  const unread = refusal ?? plan?.items.flatMap((item) => (item.unread ? [item.unread] : [])) ?? [];
  // Why Deploy is off, when it is (read-only mode says so in its own note below).
  const idle =
    plan && busy === undefined && plan.refused === null && !plan.changes
      ? 'Nothing to deploy: the database already matches the features.'
      : undefined;
  return (
    <section aria-labelledby="plan">
      {/* The buttons follow the heading, so Plan stays where it was when Deploy appears. */}
      <div className="heading start">
        <h2 id="plan">Plan and deploy</h2>
        <button type="button" onClick={showPlan} disabled={busy !== undefined}>
          {busy === 'plan' ? 'Planning…' : plan ? 'Plan again' : 'Plan'}
        </button>
        {plan && (
          <button
            type="button"
            className="primary"
            onClick={() => setAsking('deploy')}
            disabled={busy !== undefined || plan.refused !== null || !plan.changes}
            aria-describedby={idle ? 'deploy-why' : undefined}
            aria-expanded={asking === 'deploy'}
          >
            {busy === 'deploy' ? 'Deploying…' : 'Deploy'}
          </button>
        )}
        {idle && (
          <span id="deploy-why" className="muted small" data-testid="deploy-why">
            {idle}
          </span>
        )}
      </div>
      {plan && asking === 'deploy' && (
        <Confirm
          question={`Deploy ${deployment(plan, database)}? It changes the capture in that database now.`}
          yes="Yes, deploy"
          onYes={() => deploy(false)}
          onCancel={() => setAsking(undefined)}
        />
      )}
      <Problem error={problem} />
      {changed && (
        <p className="note" role="status" data-testid="plan-changed">
          The plan changed since it was shown (a feature file or the database changed): this is the
          new plan. Look at it, then Deploy again.
        </p>
      )}
      {done && (
        <p className="note done" role="status" data-testid="deployed">
          {done}
        </p>
      )}
      {plan?.refused && (
        <p className="note" data-testid="deploy-refused">
          Deploy is refused: {plan.refused}
        </p>
      )}
      {plan && unread.length > 0 && (
        <UnreadWarning
          slots={unread}
          refused={refusal !== undefined}
          canDiscard={plan.refused === null && busy === undefined}
          asking={asking === 'discard'}
          question={`Discard ${unreadChanges(unread)} and deploy ${deployment(plan, database)}? The unread changes are lost for good.`}
          onAsk={() => setAsking('discard')}
          onDiscard={() => deploy(true)}
          onCancel={() => setAsking(undefined)}
        />
      )}
      {plan && (
        <pre className="yaml plan" data-testid="plan-text">
          {plan.text}
        </pre>
      )}
    </section>
  );
}

/**
 * What dropping the slots would lose, each in words, and the ways forward:
 * drain them (capture: replication again while an engine reads them), or discard and deploy — a button
 * that says what it throws away.
 */
function UnreadWarning(props: {
  slots: UnreadSlot[];
  /** A deploy was refused (else: the plan says so before Deploy is pressed). */
  refused: boolean;
  canDiscard: boolean;
  /** The discard button was pressed: its question is open. */
  asking: boolean;
  question: string;
  onAsk: () => void;
  onDiscard: () => void;
  onCancel: () => void;
}) {
  const { slots } = props;
  const one = slots.length === 1;
  const lead = props.refused
    ? `Deploy refused: it would drop ${one ? 'a replication slot' : 'replication slots'} holding changes no engine has read.`
    : `This deploy drops ${one ? 'a replication slot' : 'replication slots'} holding changes no engine has read; Deploy refuses until ${one ? 'it is' : 'they are'} drained or you discard them.`;
  return (
    <div
      className="note unread"
      role={props.refused ? 'alert' : undefined}
      data-testid="unread-warning"
    >
      <p>{lead}</p>
      <ul>
        {slots.map((slot) => (
          <li key={slot.slot}>
            slot <code>{slot.slot}</code>: {slot.holds}
          </li>
        ))}
      </ul>
      <p>
        Dropped, they are lost: the features never see those changes (<code>nudge backfill</code>{' '}
        can enter existing rows afterwards).
      </p>
      <p data-testid="unread-drain">
        To keep them, drain first: set <code>capture: replication</code> again in nudge.yaml and
        restart the engine with it (this one runs the capture it started with) until its log says{' '}
        <code>read the replication slot's backlog</code>; stop it, set your new capture back, start
        it again, then Plan: the slot's line says <code>no changes waiting</code>.
      </p>
      <button
        type="button"
        className="danger"
        onClick={props.onAsk}
        disabled={!props.canDiscard}
        aria-expanded={props.asking}
      >
        {discardLabel(slots)}
      </button>
      {props.asking && (
        <Confirm
          question={props.question}
          yes="Yes, discard and deploy"
          danger
          onYes={props.onDiscard}
          onCancel={props.onCancel}
        />
      )}
    </div>
  );
}

/**
 * What Deploy is about to do, said before it does it: "3 changes to app (2
 * to create, 1 to drop)"; "the source database" when its name could not be read.
 */
function deployment(plan: CapturePlan, database: string | undefined): string {
  const { create, replace, drop } = plan.counts;
  const parts = [
    create ? `${create} to create` : '',
    replace ? `${replace} to replace` : '',
    drop ? `${drop} to drop` : '',
  ].filter(Boolean);
  const to = database ?? 'the source database';
  return `${plural(create + replace + drop, 'change')} to ${to} (${parts.join(', ')})`;
}

/** "3 unread changes", or "the unread changes" when they could not be counted. */
function unreadChanges(slots: UnreadSlot[]): string {
  if (!slots.every((slot) => slot.changes !== null)) return 'the unread changes';
  return plural(
    slots.reduce((sum, slot) => sum + (slot.changes ?? 0), 0),
    'unread change',
  );
}

/** "Discard 3 unread changes and deploy", or, when they could not be counted, what is thrown away. */
function discardLabel(slots: UnreadSlot[]): string {
  return `Discard ${unreadChanges(slots)} and deploy`;
}
