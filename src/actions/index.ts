// The registry of effects: which provider runs which action kind. The engine
// enqueues with ./queue.ts and runs the worker task from ./task.ts.
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
