import { type ClientIdentity, clientApiUrl, clientHeaders } from "./client-headers.js";
import { fetchError } from "./fetch-error.js";

export interface FeaturePollerOptions {
  url: string;
  identity: ClientIdentity;
  intervalMs: number;
  /** A 200's body; answers whether it was taken (a refused body's ETag is not kept). */
  onPayload(text: string): boolean;
  onError(error: Error): void;
}

const REQUEST_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_FACTOR = 10;

/**
 * Polls `GET /api/client/features` with the last ETag in `If-None-Match`, so that an unchanged state
 * costs a 304 and no body. Failures back off linearly (interval × failures, up to ten times), as
 * unleash-client does, and are reported; polling never stops on its own.
 */
export class FeaturePoller {
  #etag: string | undefined;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #abort: AbortController | undefined;
  #running = false;
  // A stop and a start while a request is out must not leave two polling loops.
  #generation = 0;

  constructor(private readonly options: FeaturePollerOptions) {}

  get running(): boolean {
    return this.#running;
  }

  /** Starts polling with a request now. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#poll(++this.#generation);
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#abort?.abort();
  }

  async #poll(generation: number): Promise<void> {
    const abort = (this.#abort = new AbortController());
    const url = clientApiUrl(this.options.url, "client/features");
    try {
      const headers = clientHeaders(this.options.identity, this.options.intervalMs);
      if (this.#etag) headers["if-none-match"] = this.#etag;
      const response = await fetch(url, {
        headers,
        signal: AbortSignal.any([abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      }).catch((error) => {
        throw fetchError(`GET ${url}`, error);
      });
      if (response.status === 304) {
        await response.body?.cancel();
      } else if (response.ok) {
        const text = await response.text();
        const etag = response.headers.get("etag") ?? undefined;
        if (!this.#running || generation !== this.#generation) return;
        this.#etag = this.options.onPayload(text) ? etag : undefined;
      } else {
        await response.body?.cancel();
        throw new Error(`GET ${url} answered ${response.status}`);
      }
      this.#failures = Math.max(this.#failures - 1, 0);
    } catch (error) {
      if (!this.#running) return;
      this.#failures = Math.min(this.#failures + 1, MAX_BACKOFF_FACTOR);
      this.options.onError(error as Error);
    } finally {
      if (this.#abort === abort) this.#abort = undefined;
      this.#schedule(generation);
    }
  }

  #schedule(generation: number): void {
    if (!this.#running || generation !== this.#generation) return;
    const delay = this.options.intervalMs * (1 + this.#failures);
    this.#timer = setTimeout(() => void this.#poll(generation), delay);
    this.#timer.unref();
  }
}
