// Clock: the engine's time. In dev (`nudge dev`) it can be moved forward, the
// same as `nudge clock advance 2d`: waits and cooldowns fire as if the time
// had passed, in every running engine; and reset to real time, as `nudge
// clock reset`. Neither can be undone with a click (what fired stays fired),
// so each asks first, saying how far the clock goes.
import { useState } from 'react';
import type { ClockState } from '../../../src/client/index.js';
import { clockOffsetInWords, durationInWords } from '../../../src/config/duration-words.js';
import { nudge } from '../api.js';
import { CLOCK_MOVED } from '../clock.js';
import { Confirm, Problem, Time, useLoad } from '../ui.js';

const HOUR = 3_600_000;
/** The steps forward, as `nudge clock advance` takes them, and their length. */
const STEPS = [
  ['1h', HOUR],
  ['1d', 24 * HOUR],
  ['2d', 48 * HOUR],
  ['7d', 168 * HOUR],
] as const;

export function Clock() {
  const { data, error, reload } = useLoad(() => nudge.clock.get(), 'clock', 5000);
  const [problem, setProblem] = useState<unknown>();
  // The move asked about and waiting for its yes: a step forward, or the reset.
  const [asking, setAsking] = useState<(typeof STEPS)[number][0] | 'reset'>();
  const move = async (how: () => Promise<ClockState>) => {
    setAsking(undefined);
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
                {STEPS.map(([step]) => (
                  <button
                    key={step}
                    type="button"
                    onClick={() => setAsking(step)}
                    aria-expanded={asking === step}
                  >
                    +{step}
                  </button>
                ))}
              </p>
              {STEPS.map(
                ([step, ms]) =>
                  asking === step && (
                    <Confirm
                      key={step}
                      question={`Move the engine clock ${durationInWords(ms)} ahead, to ${clockOffsetInWords(data.offset_ms + ms)}? Waits and cooldowns due by then fire now, in every running engine.`}
                      yes="Yes, move it"
                      onYes={() => move(() => nudge.clock.advance(step))}
                      onCancel={() => setAsking(undefined)}
                    />
                  ),
              )}
              <p>
                <button
                  type="button"
                  disabled={data.offset_ms === 0}
                  title={data.offset_ms === 0 ? 'The clock is on real time' : undefined}
                  onClick={() => setAsking('reset')}
                  aria-expanded={asking === 'reset'}
                >
                  Reset to real time
                </button>{' '}
                <span className="muted" data-testid="clock-reset-note">
                  Back to real time, as nudge clock reset. What the engine did while ahead stays
                  done: waits that fired, mail that was sent. A wait or cooldown that started while
                  ahead counts from that later time, so it ends that much later.
                </span>
              </p>
              {asking === 'reset' && data.offset_ms !== 0 && (
                <Confirm
                  question={`Put the engine clock back on real time, from ${clockOffsetInWords(data.offset_ms)}? What the engine did while ahead stays done.`}
                  yes="Yes, reset"
                  onYes={() => move(() => nudge.clock.reset())}
                  onCancel={() => setAsking(undefined)}
                />
              )}
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
