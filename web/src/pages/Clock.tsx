// Clock: the engine's time. In dev (`nudge dev`) it can be moved forward, the
// same as `nudge clock advance 2d`: waits and cooldowns fire as if the time
// had passed, in every running engine; and reset to real time, as `nudge
// clock reset`.
import { useState } from 'react';
import type { ClockState } from '../../../src/client/index.js';
import { clockOffsetInWords } from '../../../src/config/duration-words.js';
import { nudge } from '../api.js';
import { CLOCK_MOVED } from '../clock.js';
import { Problem, Time, useLoad } from '../ui.js';

const STEPS = ['1h', '1d', '2d', '7d'];

export function Clock() {
  const { data, error, reload } = useLoad(() => nudge.clock.get(), 'clock', 5000);
  const [problem, setProblem] = useState<unknown>();
  const move = async (how: () => Promise<ClockState>) => {
    setProblem(undefined);
    try {
      await how();
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
              <Time at={data.now} clock="engine" dated />
            </dd>
            <dt>Clock</dt>
            <dd data-testid="clock-offset">{clockOffsetInWords(data.offset_ms)}</dd>
          </dl>
          {data.movable ? (
            <>
              <p>
                Advance:{' '}
                {STEPS.map((step) => (
                  <button
                    key={step}
                    type="button"
                    onClick={() => move(() => nudge.clock.advance(step))}
                  >
                    +{step}
                  </button>
                ))}
              </p>
              <p>
                <button
                  type="button"
                  disabled={data.offset_ms === 0}
                  title={data.offset_ms === 0 ? 'The clock is on real time' : undefined}
                  onClick={() => move(() => nudge.clock.reset())}
                >
                  Reset to real time
                </button>{' '}
                <span className="muted" data-testid="clock-reset-note">
                  Back to real time, as nudge clock reset. What the engine did while ahead stays
                  done: waits that fired, mail that was sent. A wait or cooldown that started while
                  ahead counts from that later time, so it ends that much later.
                </span>
              </p>
            </>
          ) : (
            <p className="muted">
              The dashboard moves the clock only under nudge dev; use nudge clock advance or nudge
              clock reset on purpose.
            </p>
          )}
        </>
      )}
    </section>
  );
}
