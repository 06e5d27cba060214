// The lanes' bells: how one engine process wakes its lane loops (runtime.ts)
// when rows arrive for them, and which lane's step takes which lanes.
//
// A waiting lane wakes at once when rung; a busy one runs again when its
// step ends, even if its read was not full — the rows may have come after it
// read. When the stream is light (a pump claim that was not full), one idle
// lane takes the events of every idle lane the claim fed, in one transaction
// instead of one each — at 500 events/s about 15% less CPU per event
// (docs/benchmarks.md). The lanes it takes are lent to its step until the
// step ends: rung meanwhile, they are only marked, because woken they could
// not take their own lock and their rows would wait for the next ring or the
// poll; the step wakes them when it ends.

/**
 * A lane's wake-up: `rung` when rows came for it, `waiter` ends its pause;
 * `busy` while its step runs, `also` the other lanes its next step takes,
 * `lent` while another lane's step has it, `missed` when its own step came
 * (its poll) meanwhile and was skipped.
 */
export interface Bell {
  rung: boolean;
  waiter?: () => void;
  busy: boolean;
  also?: Set<number>;
  lent: boolean;
  missed: boolean;
}

export class Bells {
  private readonly bells: Bell[];

  constructor(lanes: number) {
    this.bells = Array.from({ length: lanes }, () => ({
      rung: false,
      busy: false,
      lent: false,
      missed: false,
    }));
  }

  /** The bell of `lane` (its loop pauses on it). */
  bell(lane: number): Bell {
    return this.bells[lane]!;
  }

  /** Rings `lanes` (all when none are given): rows came for them. */
  wake(lanes?: Iterable<number>): void {
    for (const lane of lanes ?? this.bells.keys()) {
      const bell = this.bells[lane];
      if (!bell) continue;
      bell.rung = true;
      if (!bell.lent) bell.waiter?.();
    }
  }

  /**
   * Rows came for `lanes` in a claim that was not full: the first free lane
   * takes the other free ones with it; lanes busy or lent are rung.
   */
  wakeTogether(lanes: Iterable<number>): void {
    const fed = [...lanes].filter((lane) => this.bells[lane] !== undefined);
    const held = fed.filter((lane) => !this.free(lane));
    const [taker, ...others] = fed.filter((lane) => this.free(lane));
    if (taker !== undefined) {
      const bell = this.bells[taker]!;
      bell.also = new Set([...(bell.also ?? []), ...others]);
    }
    this.wake(taker === undefined ? held : [taker, ...held]);
  }

  /**
   * A lane's step starts: returns the lanes it takes, itself first. Lanes
   * handed to it that have started a step of their own, or were lent to
   * another step, since are left to that step. A lane lent to another step
   * takes nothing (it could not take its own lock): none, and the step that
   * has it wakes it when it ends.
   */
  begin(lane: number): number[] {
    const bell = this.bells[lane]!;
    if (bell.lent) {
      bell.missed = true;
      return [];
    }
    const lent = [...(bell.also ?? [])].filter((other) => this.free(other));
    bell.also = undefined;
    bell.busy = true;
    for (const other of lent) this.bells[other]!.lent = true;
    return [lane, ...lent];
  }

  /**
   * The step of `lanes` (from begin) ended; `more` when its read was full or
   * it failed. The lanes lent to it go on by themselves, not a poll away,
   * when they may hold more, were rung or skipped a step meanwhile.
   */
  end(lanes: readonly number[], more: boolean): void {
    const [lane, ...lent] = lanes;
    this.bells[lane!]!.busy = false;
    const woken = lent.filter((other) => {
      const bell = this.bells[other]!;
      const wake = more || bell.rung || bell.missed;
      bell.lent = false;
      bell.missed = false;
      return wake;
    });
    this.wake(woken);
  }

  private free(lane: number): boolean {
    const bell = this.bells[lane]!;
    return !bell.busy && !bell.lent;
  }
}
