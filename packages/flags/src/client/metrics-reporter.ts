import { CLIENT_SPEC_VERSION, type ClientIdentity, SDK_VERSION } from "./client-headers.js";
import { MetricsBucket } from "./metrics-bucket.js";
import { postClientApi } from "./post-client-api.js";

export interface MetricsReporterOptions {
  url: string;
  identity: ClientIdentity;
  environment?: string;
  intervalMs: number;
  onError(error: Error): void;
}

/**
 * Reports evaluation counts to `POST /api/client/metrics` every interval, in unleash-client's format,
 * and registers the instance once (`POST /api/client/register`). A failed post (network or status)
 * merges its counts into the next bucket and is reported; an empty bucket is not posted.
 */
export class MetricsReporter {
  readonly bucket = new MetricsBucket();
  readonly #started = new Date();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;

  constructor(private readonly options: MetricsReporterOptions) {}

  start(): void {
    void this.#post("client/register", {
      appName: this.options.identity.appName,
      instanceId: this.options.identity.instanceId,
      connectionId: this.options.identity.connectionId,
      sdkVersion: SDK_VERSION,
      strategies: [
        "default",
        "userWithId",
        "flexibleRollout",
        "gradualRolloutUserId",
        "gradualRolloutSessionId",
        "gradualRolloutRandom",
        "remoteAddress",
        "applicationHostname",
      ],
      started: this.#started.toISOString(),
      interval: this.options.intervalMs,
      ...this.#platform(),
    }).catch((error: Error) => this.options.onError(error));
    this.#schedule();
  }

  /** Sends what is counted now (a no-op when nothing is); resolves when the post is done. */
  async flush(): Promise<void> {
    if (this.#inFlight) await this.#inFlight;
    if (this.bucket.empty) return;
    const bucket = this.bucket.take();
    const payload: Record<string, unknown> = {
      appName: this.options.identity.appName,
      instanceId: this.options.identity.instanceId,
      connectionId: this.options.identity.connectionId,
      bucket,
      ...this.#platform(),
    };
    if (this.options.environment !== undefined) payload.environment = this.options.environment;
    this.#inFlight = this.#post("client/metrics", payload)
      .catch((error: Error) => {
        this.bucket.restore(bucket);
        this.options.onError(error);
      })
      .finally(() => (this.#inFlight = undefined));
    await this.#inFlight;
  }

  /** Stops the timer and sends the last counts. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.flush();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(
      () => void this.flush().finally(() => this.#schedule()),
      this.options.intervalMs,
    );
    // Reporting is no reason for the application to stay alive.
    this.#timer.unref();
  }

  #post(path: string, body: unknown): Promise<void> {
    return postClientApi(this.options.url, this.options.identity, path, body, this.options.intervalMs);
  }

  #platform() {
    return {
      platformName: "node",
      platformVersion: process.versions.node,
      yggdrasilVersion: null,
      specVersion: CLIENT_SPEC_VERSION,
    };
  }
}
