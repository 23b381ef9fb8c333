// Undo steps collected while building something up (a server, a VM); run in
// reverse when the whole thing is torn down or a later step fails, so nothing
// half-made is left behind. A failing step does not stop the others.
export class CleanupStack {
  private steps: { what: string; undo: () => Promise<unknown> | unknown }[] = [];

  push(what: string, undo: () => Promise<unknown> | unknown): void {
    this.steps.push({ what, undo });
  }

  /** Forget the steps: the thing was built and now belongs to someone else. */
  release(): void {
    this.steps = [];
  }

  /** Runs every step, newest first; returns the ones that failed. */
  async run(): Promise<{ what: string; error: unknown }[]> {
    const failed: { what: string; error: unknown }[] = [];
    const steps = this.steps.reverse();
    this.steps = [];
    for (const s of steps) {
      try {
        await s.undo();
      } catch (error) {
        failed.push({ what: s.what, error });
      }
    }
    return failed;
  }
}
