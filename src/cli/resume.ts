// `nudge resume <feature>`: undoes `nudge pause` (or the dashboard's pause) in
// every running engine within about a second.
import type { Io } from './io.js';
import { switchFeature } from './pause.js';
import type { GlobalOptions } from './program.js';

export function resume(args: string[], options: GlobalOptions, io: Io): Promise<number> {
  return switchFeature('resume', args[0], options, io);
}
