// Clock: the engine's time. In dev (`nudge dev`) it can be moved forward, the
// same as `nudge clock advance 2d`: waits and cooldowns fire as if the time
// had passed, in every running engine.
import { useState } from 'react';
import { clockOffsetInWords } from '../../../src/config/duration-words.js';
import { nudge } from '../api.js';
import { CLOCK_MOVED } from '../clock.js';
import { Problem, Time, useLoad } from '../ui.js';

const STEPS = ['1h', '1d', '2d', '7d'];

export function Clock() {
  const { data, error, reload } = useLoad(() => nudge.clock.get(), 'clock', 5000);
  const [problem, setProblem] = useState<unknown>();
  const advance = async (by: string) => {
    setProblem(undefined);
    try {
      await nudge.clock.advance(by);
      reload();
      // The header and the pages' clock notes read it again now, not at their next poll.
      window.dispatchEvent(new Event(CLOCK_MOVED));
    } catch (failure) {
      setProblem(failure);
    }
  };
  return (
    <section>
      <h1>Clock</h1>
      <Problem error={error ?? problem} />
      {data && (
        <>
          <dl className="facts">
            <dt>Engine time</dt>
            <dd data-testid="engine-time">
              <Time at={data.now} clock="engine" />
            </dd>
            <dt>Clock</dt>
            <dd data-testid="clock-offset">{clockOffsetInWords(data.offset_ms)}</dd>
          </dl>
          {data.movable ? (
            <p>
              Advance:{' '}
              {STEPS.map((step) => (
                <button key={step} type="button" onClick={() => advance(step)}>
                  +{step}
                </button>
              ))}
            </p>
          ) : (
            <p className="muted">
              The dashboard moves the clock only under nudge dev; use nudge clock advance on
              purpose.
            </p>
          )}
        </>
      )}
    </section>
  );
}
