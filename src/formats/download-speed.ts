// Download speed over a sliding window: a rate over the whole download would hide a connection
// that has just slowed down or stalled, and a rate between two chunks jumps around.

/** How far back the speed looks. */
export const SPEED_WINDOW_MS = 3000;

export class SpeedMeter {
  private readonly times: number[] = [];
  private readonly bytes: number[] = [];
  private head = 0;

  constructor(private readonly windowMs = SPEED_WINDOW_MS) {}

  /** Records `loaded` bytes so far at `now` (ms); bytes per second over the last window, 0 until time has passed. */
  add(now: number, loaded: number): number {
    this.times.push(now);
    this.bytes.push(loaded);
    // Keep one sample at or before the window's start, so the rate spans the whole window.
    while (this.times.length - this.head > 2 && this.times[this.head + 1]! <= now - this.windowMs) this.head++;
    // Drop passed samples now and then rather than shifting on every chunk (thousands a second on a fast link).
    if (this.head > 1024) {
      this.times.splice(0, this.head);
      this.bytes.splice(0, this.head);
      this.head = 0;
    }
    const dt = now - this.times[this.head]!;
    return dt > 0 ? ((loaded - this.bytes[this.head]!) * 1000) / dt : 0;
  }
}
