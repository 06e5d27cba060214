// A feature's deploy state as the pages say it: a short badge on the
// Features list ("deployed #3", "changed since #3", "not deployed"), linking
// to the feature, and the Capture line of its page — the deployment, the
// trigger or publication it relies on, or what the next deploy changes; and,
// above the list, once, why the features' deploy state is unknown when they
// share the reason (a feature file that does not check: no plan at all).
import { captureText, type FeatureDeploy, type FeatureSummary } from '../../src/client/index.js';
import { Link } from './router.js';
import { Badge, Time } from './ui.js';

/** The badge's words: short enough for a table cell. */
export function deployLabel(deploy: FeatureDeploy): string {
  const number = deploy.deployment ? ` #${deploy.deployment.id}` : '';
  switch (deploy.state) {
    case 'deployed':
      return `deployed${number}`;
    case 'changed':
      return number ? `changed since${number}` : 'changed';
    case 'not_deployed':
      return 'not deployed';
    case 'not_needed':
      return 'no capture needed';
    case 'unknown':
      return 'unknown';
  }
}

/** The badge's colour, from the status badges: green, amber, red, grey. */
const TONES: Record<FeatureDeploy['state'], string> = {
  deployed: 'active',
  changed: 'paused',
  not_deployed: 'error',
  not_needed: 'skipped',
  unknown: 'skipped',
};

/**
 * The whole state, said on hover and to screen readers: the badge's words
 * first (the link's name holds what it shows), then what they stand for —
 * after a dash when that is a reason, which may hold a colon of its own.
 */
function deploySentence(deploy: FeatureDeploy): string {
  const details =
    deploy.state === 'deployed'
      ? deploy.captures.map(captureText)
      : [...(deploy.reason ? [deploy.reason] : []), ...deploy.changes];
  return `${deployLabel(deploy)}${deploy.reason ? ' — ' : ': '}${details.join('; ')}`;
}

/** What a plan that could not be made says first, left out where the page says it already. */
const NO_PLAN = 'no plan could be made: ';

/**
 * The reason the features' deploy states are unknown, when every one is
 * unknown for the same reason: no plan could be made (a feature file that
 * does not check, the source not answering). Else undefined.
 */
export function sharedUnknownReason(features: FeatureSummary[]): string | undefined {
  const first = features[0]?.deploy.reason;
  const shared = features.every(
    (feature) => feature.deploy.state === 'unknown' && feature.deploy.reason === first,
  );
  return shared && first ? first : undefined;
}

/**
 * The Features list's line above the table, said once and in full (a phone
 * has no hover): why each deploy state is unknown, with the file and line
 * when a feature file is the cause, and what to do.
 */
export function UnknownDeploys({ reason }: { reason: string }) {
  const said = reason.startsWith(NO_PLAN) ? reason.slice(NO_PLAN.length) : reason;
  // `nudge/features/welcome-drip.yaml:12:5 …`: a feature file that does not check.
  const inFile = /\.ya?ml(:\d+)+\b/.test(said);
  return (
    <p
      className="note"
      role="status"
      data-testid="deploy-unknown"
      style={{ overflowWrap: 'anywhere' }}
    >
      <strong>Deploy state unknown:</strong> {said}
      {inFile && ' — fix the file, then Plan.'}
    </p>
  );
}

/** The Features list's Deploy cell: the badge, a link to the feature. */
export function DeployLink({
  feature,
  window,
}: {
  feature: FeatureSummary;
  window: string | undefined;
}) {
  return (
    <span data-deploy={feature.deploy.state}>
      <Link
        to={{ page: 'feature', name: feature.name, ...(window ? { window } : {}) }}
        label={deploySentence(feature.deploy)}
      >
        {/* One line, as the status badge beside it: its spaces do not break. */}
        <Badge kind={TONES[feature.deploy.state]}>
          {deployLabel(feature.deploy).replaceAll(' ', '\u00a0')}
        </Badge>
      </Link>
    </span>
  );
}

/**
 * A feature page's Capture line: where its capture is deployed and by what,
 * or what the next deploy changes for it (Plan and deploy follow on the
 * page), and in read-only mode that Deploy is refused from here.
 */
export function CaptureLine({
  deploy,
  refused,
}: {
  deploy: FeatureDeploy;
  refused: string | null;
}) {
  const when = deploy.deployment ? (
    <>
      deployment #{deploy.deployment.id} (<Time at={deploy.deployment.at} relative />)
    </>
  ) : (
    'its deployment'
  );
  const pending = deploy.state === 'changed' || deploy.state === 'not_deployed';
  return (
    <div data-testid="capture" data-deploy={deploy.state}>
      {deploy.state === 'deployed' && (
        <>
          deployed in {when} — {deploy.captures.map(captureText).join(', ')}
          {deploy.captures.some((c) => c.plan !== 'unchanged') &&
            '; the next deploy redefines it for other features'}
        </>
      )}
      {deploy.state === 'changed' && <>changed since {when}; the next deploy would apply:</>}
      {deploy.state === 'not_deployed' && <>not deployed; the next deploy would apply:</>}
      {/* A dash, not a colon: the reason may have colons of its own. */}
      {deploy.state === 'not_needed' && <>none needed — {deploy.reason}</>}
      {deploy.state === 'unknown' && <>unknown — {deploy.reason}</>}
      {deploy.changes.length > 0 && (
        <ul>
          {deploy.changes.map((change) => (
            // The plan's own lines (`+ trigger …`) as the plan prints them.
            <li key={change} className={/^[+~-] /.test(change) ? 'code' : undefined}>
              {change}
            </li>
          ))}
        </ul>
      )}
      {pending &&
        (refused ? (
          <p className="note" data-testid="capture-refused">
            Deploy is refused from here: {refused}
          </p>
        ) : (
          <p className="muted small">Plan and deploy, below, apply it.</p>
        ))}
    </div>
  );
}
