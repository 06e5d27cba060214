// Small pieces of the wording every part of Nudge shares.

/** "1 feature", "3 features": the count with its noun. */
export const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
