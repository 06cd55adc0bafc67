import { AsyncLocalStorage } from "node:async_hooks";
import type { ClientIdentity } from "./client-headers.js";
import { OutcomeBucket, type OutcomePayload } from "./outcome-bucket.js";
import { PeriodicReport } from "./periodic-report.js";
import { postClientApi } from "./post-client-api.js";

/** One request in flight: the flags it evaluated (first answer of each) and when it began. */
export interface RequestScope {
  readonly evaluated: Map<string, boolean>;
  readonly startedAt: number;
  ended: boolean;
}

export interface RequestOutcomesOptions {
  url: string;
  identity: ClientIdentity;
  /** How often outcomes are sent, ms; 0: never (they are still counted for `track`). */
  intervalMs: number;
  onError(error: Error): void;
}

/**
 * Which flags each request evaluated, on which side, and how the request ended: the evidence of a
 * guarded rollout. The request is found through AsyncLocalStorage, so `isEnabled` deep inside a
 * handler needs no request object. Aggregated counts and latency buckets go to
 * `POST /api/client/outcomes` every interval (1 s by default: a rollout looks every second).
 */
export class RequestOutcomes {
  readonly bucket = new OutcomeBucket();
  readonly #storage = new AsyncLocalStorage<RequestScope>();
  readonly #report: PeriodicReport<OutcomePayload>;

  constructor(options: RequestOutcomesOptions) {
    const { appName, instanceId } = options.identity;
    this.#report = new PeriodicReport({
      intervalMs: options.intervalMs,
      take: () => (this.bucket.empty ? undefined : this.bucket.take()),
      restore: (flags) => this.bucket.restore(flags),
      send: (flags) =>
        postClientApi(options.url, options.identity, "client/outcomes", { appName, instanceId, flags }),
      onError: (error) => {
        if (!/ answered 404$/.test(error.message)) return void options.onError(error);
        // An Unleash server: counted still (for `track`), never sent again.
        options.onError(
          new Error(
            `${error.message}: this server takes no request outcomes (guarded rollouts need Baton's control plane); not sent again`,
          ),
        );
        return false;
      },
    });
  }

  /** A flag answered inside a request: its first answer there is the side the request is on. */
  note(name: string, enabled: boolean): void {
    const scope = this.#storage.getStore();
    if (scope && !scope.ended && !scope.evaluated.has(name)) scope.evaluated.set(name, enabled);
  }

  begin(): RequestScope {
    return { evaluated: new Map(), startedAt: performance.now(), ended: false };
  }

  /** Runs `fn` (and everything it awaits or schedules) inside the request. */
  run<T>(scope: RequestScope, fn: () => T): T {
    return this.#storage.run(scope, fn);
  }

  /** Enters the request for the rest of this synchronous run (for frameworks that call on after a hook). */
  enter(scope: RequestScope): void {
    this.#storage.enterWith(scope);
  }

  /** The request ended: counted once, however many ends are reported. */
  end(scope: RequestScope, failed: boolean): void {
    if (scope.ended) return;
    scope.ended = true;
    this.bucket.record(scope.evaluated, failed, performance.now() - scope.startedAt);
  }

  start(): void {
    this.#report.start();
  }

  flush(): Promise<void> {
    return this.#report.flush();
  }

  close(): Promise<void> {
    return this.#report.close();
  }
}
