// `nudge replay` refuses a filter that says nothing, or a bad --since, before
// it loads the project, saying it in the command's own options.
import { describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { replay } from '../../src/cli/replay.js';

describe('nudge replay', () => {
  it('asks what to replay when no option says it', async () => {
    const { io } = memoryIo({ cwd: '/nonexistent' });
    await expect(replay({}, io)).rejects.toMatchObject({
      name: 'NudgeError',
      message: 'say what to replay',
      hint: 'nudge replay --key <key>, --feature <name> or --since 1h',
    });
  });

  it('names --since and what it was given when it is not a duration', async () => {
    const { io } = memoryIo({ cwd: '/nonexistent' });
    await expect(replay({ feature: 'drip', since: 'lately' }, io)).rejects.toMatchObject({
      name: 'NudgeError',
      message: '--since lately: expected a duration such as 2h or 7d',
    });
  });
});
