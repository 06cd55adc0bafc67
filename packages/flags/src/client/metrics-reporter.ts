import { CLIENT_SPEC_VERSION, type ClientIdentity, SDK_VERSION } from "./client-headers.js";
import { MetricsBucket, type MetricsBucketPayload } from "./metrics-bucket.js";
import { PeriodicReport } from "./periodic-report.js";
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
  readonly #report: PeriodicReport<MetricsBucketPayload>;

  constructor(private readonly options: MetricsReporterOptions) {
    this.#report = new PeriodicReport({
      intervalMs: options.intervalMs,
      take: () => (this.bucket.empty ? undefined : this.bucket.take()),
      restore: (bucket) => this.bucket.restore(bucket),
      send: (bucket) => {
        const payload: Record<string, unknown> = {
          appName: options.identity.appName,
          instanceId: options.identity.instanceId,
          connectionId: options.identity.connectionId,
          bucket,
          ...this.#platform(),
        };
        if (options.environment !== undefined) payload.environment = options.environment;
        return this.#post("client/metrics", payload);
      },
      onError: (error) => void options.onError(error),
    });
  }

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
    this.#report.start();
  }

  /** Sends what is counted now (a no-op when nothing is); resolves when the post is done. */
  flush(): Promise<void> {
    return this.#report.flush();
  }

  /** Stops the timer and sends the last counts. */
  close(): Promise<void> {
    return this.#report.close();
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
