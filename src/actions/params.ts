// What a rendered parameter must be for its action to run, in one place for
// the run (email.ts, edge-function.ts) and for the check of feature files
// (features/action-checks.ts), which applies it to parameters without Liquid.

/** An address, alone or as `Name <address>`: what an email's recipient must render to. */
export function isEmailAddress(to: string): boolean {
  return /^[^@\s]+@[^@\s]+$/.test(to.replace(/^.*<(.*)>\s*$/, '$1'));
}

/** What an Edge Function's name must render to: letters, digits, - and _. */
export function isFunctionName(name: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(name);
}
