export interface PeriodicReportOptions<P> {
  /** How often, in ms; 0 or less: only when flushed by hand. */
  intervalMs: number;
  /** What has been gathered since the last report (undefined: nothing to send); starts afresh. */
  take(): P | undefined;
  /** Puts back what could not be sent, to go with the next report. */
  restore(payload: P): void;
  send(payload: P): Promise<void>;
  /** A failed send (its payload is kept). Answer `false` to stop reporting for good. */
  onError(error: Error): boolean | undefined;
}

/**
 * Sends what was gathered every interval, one report at a time; a failed report is merged into
 * the next one, so that nothing is lost while the server is away. The timer never keeps the
 * application alive.
 */
export class PeriodicReport<P> {
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;
  #stopped = false;

  constructor(private readonly options: PeriodicReportOptions<P>) {}

  start(): void {
    this.#schedule();
  }

  /** Sends what is gathered now (nothing when nothing is); resolves when the report is done. */
  async flush(): Promise<void> {
    if (this.#inFlight) await this.#inFlight;
    if (this.#stopped) return;
    const payload = this.options.take();
    if (payload === undefined) return;
    this.#inFlight = this.options
      .send(payload)
      .catch((error: Error) => {
        if (this.options.onError(error) === false) this.#stopped = true;
        else this.options.restore(payload);
      })
      .finally(() => (this.#inFlight = undefined));
    await this.#inFlight;
  }

  /** Stops the timer and sends the last report (when reporting periodically at all). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.options.intervalMs > 0) await this.flush();
  }

  #schedule(): void {
    if (this.#closed || this.options.intervalMs <= 0) return;
    this.#timer = setTimeout(
      () => void this.flush().finally(() => this.#schedule()),
      this.options.intervalMs,
    );
    this.#timer.unref();
  }
}
