// The registry of effects: which provider runs which action kind. Attempts
// reach a provider by two paths, both through runActions (./task.ts): an
// action's first attempt, made by the engine process that decided it right
// after the deciding transaction commits (./first-attempt.ts); and retries,
// replays and recovery, as graphile-worker jobs that ./queue.ts adds and the
// task in ./task.ts runs.
import { contactProvider } from './contact.js';
import { edgeFunctionProvider } from './edge-function.js';
import { emailProvider } from './email.js';
import { type ActionProvider, type ActionRun, PermanentError } from './types.js';
import { webhookProvider } from './webhook.js';

const providers = [emailProvider, webhookProvider, edgeFunctionProvider, contactProvider];

/** Kind → provider. goto and exit are journey moves the engine makes itself: not here. */
export const providerByKind: ReadonlyMap<ActionRun['kind'], ActionProvider> = new Map(
  providers.flatMap((provider) => provider.kinds.map((kind) => [kind, provider] as const)),
);

export function providerFor(kind: ActionRun['kind']): ActionProvider {
  const provider = providerByKind.get(kind);
  if (!provider) {
    throw new PermanentError(
      kind === 'goto' || kind === 'exit'
        ? `${kind} is a journey move the engine makes, not an action to run`
        : `no provider runs actions of kind ${kind}`,
    );
  }
  return provider;
}
