import { type ClientIdentity, clientApiUrl, clientHeaders } from "./client-headers.js";
import { fetchError } from "./fetch-error.js";
import { type ReconnectDelayOptions, reconnectDelay } from "./reconnect-delay.js";
import { type SseEvent, SseParser } from "./sse-parser.js";

export interface FlagStreamOptions {
  url: string;
  identity: ClientIdentity;
  reconnect: Required<ReconnectDelayOptions>;
  /** A stream silent for this long (not even a heartbeat comment) is taken as dead. */
  readTimeoutMs: number;
  /** `unleash-connected` and `unleash-updated` events; answers whether the payload was taken. */
  onPayload(event: SseEvent): boolean;
  /** A hydration was taken: the stream is up to date and live. */
  onConnected(): void;
  /** Streaming gave up (see FlagStream); polling should take over. */
  onFailover(reason: Error): void;
  onError(error: Error): void;
}

// As unleash-client: these statuses mean streaming is not available here (no endpoint, no right, too
// many streaming clients), so retrying the stream is pointless; others are retried a few times.
const HARD_FAILOVER_STATUSES = new Set([401, 403, 404, 405, 429, 501]);

/**
 * The connection to `GET /api/client/streaming`, kept open: reconnects after any failure with
 * exponential back-off and jitter, sending `Last-Event-ID` so that the server can send only what was
 * missed. A payload that is refused reconnects without it, so that the server sends a full hydration
 * (as unleash-client does). After `maxFailures` failures in a row without a hydration, a hard status,
 * or the server's `fetch-mode: polling` event, it stops and calls onFailover.
 */
/** How long a stream must have stayed open to count as a working connection. */
const STREAM_HELD_MS = 5_000;

export class FlagStream {
  #running = false;
  #generation = 0;
  #failures = 0;
  #maxFailures = 5;
  #lastEventId = "";
  #initialDelayMs: number;
  #abort: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: FlagStreamOptions) {
    this.#initialDelayMs = options.reconnect.initialMs;
  }

  get running(): boolean {
    return this.#running;
  }

  start(maxFailures: number): void {
    if (this.#running) return;
    this.#running = true;
    this.#failures = 0;
    this.#maxFailures = maxFailures;
    void this.#connect(++this.#generation);
  }

  stop(): void {
    this.#running = false;
    this.#generation++;
    clearTimeout(this.#timer);
    this.#abort?.abort();
  }

  async #connect(generation: number): Promise<void> {
    const abort = (this.#abort = new AbortController());
    const url = clientApiUrl(this.options.url, "client/streaming");
    let status: number | undefined;
    let failure: Error;
    let openedAt: number | undefined;
    try {
      const headers: Record<string, string> = {
        ...clientHeaders(this.options.identity),
        accept: "text/event-stream",
        "cache-control": "no-cache",
      };
      if (this.#lastEventId) headers["last-event-id"] = this.#lastEventId;
      const response = await fetch(url, { headers, signal: abort.signal }).catch((error) => {
        throw fetchError(`GET ${url}`, error);
      });
      if (response.status !== 200 || !response.body) {
        status = response.status;
        await response.body?.cancel();
        throw new Error(`GET ${url} answered ${response.status}`);
      }
      const type = response.headers.get("content-type") ?? "";
      if (!type.startsWith("text/event-stream")) {
        await response.body.cancel();
        throw new Error(`GET ${url} answered ${type || "no content type"}, not an event stream`);
      }
      openedAt = performance.now();
      failure = await this.#read(response.body, abort, generation);
    } catch (error) {
      failure = error as Error;
    } finally {
      if (this.#abort === abort) this.#abort = undefined;
    }
    if (generation !== this.#generation) return;
    // A stream that held a while was a working connection, whatever it sent (an "up to date"
    // answer to Last-Event-ID sends no state): its end starts the failure count afresh, so that
    // a few control-plane restarts never add up to a fail-over to polling.
    if (openedAt !== undefined && performance.now() - openedAt >= STREAM_HELD_MS) this.#failures = 0;
    this.#failed(failure, status);
  }

  /** Reads events until the stream ends; answers why it ended. */
  async #read(body: ReadableStream<Uint8Array>, abort: AbortController, generation: number): Promise<Error> {
    let refused: Error | undefined;
    const parser = new SseParser({
      onRetry: (milliseconds) => (this.#initialDelayMs = milliseconds),
      onEvent: (event) => {
        if (refused || generation !== this.#generation) return;
        if (event.event === "fetch-mode" && event.data.trim() === "polling") {
          return this.#failover(new Error("the server asked for polling (fetch-mode: polling)"));
        }
        if (event.event !== "unleash-connected" && event.event !== "unleash-updated") return;
        if (!this.options.onPayload(event)) {
          // Deltas on top of a state we did not take would be wrong: start over from a hydration.
          this.#lastEventId = "";
          refused = new Error(`${event.event} event refused; reconnecting for a full state`);
          abort.abort();
          return;
        }
        this.#lastEventId = event.id;
        // A catch-up after Last-Event-ID comes as updates, with no hydration: connected all the same.
        if (event.event === "unleash-connected" || this.#failures > 0) {
          this.#failures = 0;
          this.#initialDelayMs = this.options.reconnect.initialMs;
          this.options.onConnected();
        }
      },
    });
    const decoder = new TextDecoder();
    const reader = body.getReader();
    const silence = setTimeout(() => abort.abort(), this.options.readTimeoutMs);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return new Error("the server closed the event stream");
        silence.refresh();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch (error) {
      if (refused) return refused;
      if (abort.signal.aborted) return new Error(`event stream silent for ${this.options.readTimeoutMs} ms`);
      return fetchError("event stream", error);
    } finally {
      clearTimeout(silence);
      reader.releaseLock();
    }
  }

  #failed(error: Error, status: number | undefined): void {
    if (!this.#running) return;
    this.#failures++;
    if ((status !== undefined && HARD_FAILOVER_STATUSES.has(status)) || this.#failures >= this.#maxFailures) {
      return this.#failover(error);
    }
    this.options.onError(error);
    const delay = reconnectDelay(this.#failures, {
      initialMs: this.#initialDelayMs,
      maxMs: this.options.reconnect.maxMs,
    });
    const generation = this.#generation;
    this.#timer = setTimeout(() => void this.#connect(generation), delay);
    this.#timer.unref();
  }

  #failover(reason: Error): void {
    this.stop();
    this.options.onFailover(reason);
  }
}
