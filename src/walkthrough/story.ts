/**
 * A walkthrough is a sequence of steps the model actually ran, each with what it observed. The CLI's
 * `demo` prints them; the web view can draw them. Nothing here is canned: every line is built from a
 * value the model returned.
 */

/** ok: worked; info: observed; refused: the kernel said no, as it should; fail: went wrong. */
export type StepStatus = 'ok' | 'fail' | 'info' | 'refused';

export interface StoryStep {
  readonly title: string;
  readonly status: StepStatus;
  readonly lines: readonly string[];
}

export interface Story {
  readonly title: string;
  readonly steps: readonly StoryStep[];
  /** The story reached its end without an unexpected failure. */
  readonly ok: boolean;
  /** One sentence: what the story showed. */
  readonly moral: string;
}

/** Collects steps while a story runs. */
export class StoryBuilder {
  private readonly steps: StoryStep[] = [];
  constructor(readonly title: string) {}

  step(title: string, status: StepStatus, lines: readonly string[]): void {
    this.steps.push({ title, status, lines });
  }

  done(ok: boolean, moral: string): Story {
    return { title: this.title, steps: this.steps.slice(), ok, moral };
  }
}
