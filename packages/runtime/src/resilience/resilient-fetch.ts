import type { Registry } from "prom-client";
import type { BreakerOptions, BreakerStatus } from "./circuit-breaker.js";
import { isIdempotentRequest, neverSent, rootMessage } from "./idempotent-request.js";
import { type BackoffOptions, type BulkheadOptions, type PolicyCore, policyCore } from "./policy-core.js";
import { isResilienceError, ResilienceError } from "./resilience-error.js";
import { retryAfterMs } from "./retry-after.js";

/** Options of {@link createResilientFetch}: every one has a default meant for a service-to-service call. */
export interface ResilientFetchOptions {
  /**
   * The dependency, as errors, health output and metrics name it: "payments-api". With a name,
   * every request shares one breaker and one bulkhead; without, each origin gets its own, named
   * by its host ("payments.internal:8080").
   */
  name?: string;
  /** The fetch to call (default: the global one, undici's). */
  fetch?: typeof fetch;
  /**
   * Per attempt, until the response's headers arrive (default 10 000 ms); the request is aborted
   * at it, its socket closed. Reading the body is the caller's to bound. False for none.
   */
  timeoutMs?: number | false;
  /** Attempts after the first, for requests safe to repeat (default 2). */
  retries?: number;
  /** Between retries (default: from 100 ms, at most 2 s, decorrelated jitter). */
  backoff?: BackoffOptions;
  /** Statuses retried on a request safe to repeat (default 429, 502, 503, 504). */
  retryStatuses?: number[];
  /**
   * A `Retry-After` up to this (default 5000 ms) is waited for instead of the back-off; a longer
   * one is not waited for: the response goes back to the caller.
   */
  maxRetryAfterMs?: number;
  /** Default: open after 5 consecutive failures (network errors, timeouts, 5xx), a trial after 10 s. */
  breaker?: BreakerOptions | false;
  /** Default: none. */
  bulkhead?: BulkheadOptions;
  /**
   * Answers instead of an error (network failure after the retries, timeout, open breaker,
   * full bulkhead). A 5xx response that survived the retries is returned as it is, not replaced.
   */
  fallback?: (error: unknown, request: { method: string; url: string }) => Response | PromiseLike<Response>;
  /** For the breaker gauge and the counters (default: prom-client's default registry); false for none. */
  registry?: Registry | false;
}

/** `RequestInit` plus what one request may say about itself. */
export interface ResilientRequestInit extends RequestInit {
  /**
   * Whether the request may be sent twice. Default: true for GET, HEAD, OPTIONS, PUT, DELETE,
   * TRACE and for a request with an `Idempotency-Key` header; false otherwise (a plain POST or
   * PATCH is only sent again when the connection was refused, before any byte left).
   */
  idempotent?: boolean;
  /** This request's timeout per attempt, instead of the client's. */
  timeoutMs?: number | false;
  /** This request's retries, instead of the client's. */
  retries?: number;
}

/** What health checks need from a set of policies. */
export interface BreakerSource {
  readonly name: string;
  breakerStatus(): BreakerStatus | undefined;
}

/** A fetch: same arguments, same `Response`, with the policies around it. */
export interface ResilientFetch {
  (input: string | URL | Request, init?: ResilientRequestInit): Promise<Response>;
  /** The policies made so far: one when named, one per origin called otherwise. */
  policies(): BreakerSource[];
}

const DEFAULT_STATUSES = [429, 502, 503, 504];

/**
 * A fetch for calls to other services during a rolling upgrade, when they answer from old and
 * new versions and some instances are not ready: a timeout per attempt; retries with back-off
 * and jitter on network errors and on 429/502/503/504 (honouring `Retry-After`), for requests
 * safe to repeat only; a circuit breaker that counts network errors, timeouts and 5xx; an
 * optional bulkhead and fallback. Built on cockatiel.
 *
 * ```ts
 * const payments = createResilientFetch({ name: "payments-api", timeoutMs: 2000 });
 * const res = await payments("http://payments/v1/charges", { method: "POST", body, headers: { "idempotency-key": id } });
 * health({ checks: [breakerCheck("payments-api", payments)] });
 * ```
 * @throws ResilienceError `BATON_FETCH_FAILED`, `BATON_TIMEOUT`, `BATON_CIRCUIT_OPEN`, `BATON_BULKHEAD_FULL`.
 */
export function createResilientFetch(options: ResilientFetchOptions = {}): ResilientFetch {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const statuses = new Set(options.retryStatuses ?? DEFAULT_STATUSES);
  const maxRetryAfter = options.maxRetryAfterMs ?? 5000;
  const cores = new Map<string, PolicyCore>();
  const coreFor = (url: URL): PolicyCore => {
    const key = options.name ?? url.origin;
    let core = cores.get(key);
    if (!core) {
      core = policyCore(
        { ...options, name: options.name ?? url.host },
        {
          error: (e) => isResilienceError(e, "BATON_FETCH_FAILED") || isResilienceError(e, "BATON_TIMEOUT"),
          value: (v) => (v as Response).status >= 500,
        },
        (r) =>
          "error" in r
            ? r.error instanceof ResilienceError
              ? rootMessage(r.error.cause ?? r.error)
              : r.error.message
            : `HTTP ${(r.value as Response).status}`,
      );
      cores.set(key, core);
    }
    return core;
  };

  const resilientFetch = async (
    input: string | URL | Request,
    init: ResilientRequestInit = {},
  ): Promise<Response> => {
    const { idempotent: declared, timeoutMs, retries, ...rest } = init;
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request ? request.url : String(input));
    const method = (rest.method ?? request?.method ?? "GET").toUpperCase();
    const headers = new Headers(rest.headers ?? request?.headers);
    const idempotent = isIdempotentRequest(method, headers, declared);
    // A stream body is read once: nothing to send again.
    const repeatable = !(rest.body instanceof ReadableStream);
    const core = coreFor(url);
    const what = `${method} ${url.origin}${url.pathname}`;
    const retryCount = repeatable ? (retries ?? options.retries ?? 2) : 0;
    const attempts = retryCount + 1;
    const retryAfterOk = (res: Response) => {
      const wait = retryAfterMs(res.headers.get("retry-after"));
      return wait === undefined || wait <= maxRetryAfter;
    };
    try {
      return await core.run(
        async (signal, n) => {
          try {
            return await fetchImpl(request ? request.clone() : input, { ...rest, signal });
          } catch (error) {
            if (signal.aborted || !isNetworkError(error)) throw error;
            const note =
              idempotent || neverSent(error)
                ? ""
                : `; a ${method} is not sent again once it may have reached the server`;
            throw new ResilienceError(
              "BATON_FETCH_FAILED",
              core.name,
              `${what} failed (attempt ${n} of ${attempts}): ${rootMessage(error)}${note}`,
              { cause: error, attempt: n },
            );
          }
        },
        {
          signal: rest.signal ?? request?.signal ?? undefined,
          timeoutMs: timeoutMs ?? options.timeoutMs ?? 10_000,
          retries: retryCount,
          what,
          abortOnReturn: false,
          retryOnError: (e) =>
            (idempotent &&
              (isResilienceError(e, "BATON_TIMEOUT") || isResilienceError(e, "BATON_FETCH_FAILED"))) ||
            (isResilienceError(e, "BATON_FETCH_FAILED") && neverSent(e.cause)),
          retryOnValue: (res) => idempotent && statuses.has(res.status) && retryAfterOk(res),
          retryDelayMs: (res) => retryAfterMs(res.headers.get("retry-after")),
          discard: (res) => void res.body?.cancel().catch(() => {}),
        },
      );
    } catch (error) {
      const signal = rest.signal ?? request?.signal;
      if (!options.fallback || signal?.aborted) throw error;
      return options.fallback(error, { method, url: url.href });
    }
  };
  return Object.assign(resilientFetch, { policies: () => [...cores.values()] });
}

/** undici's "fetch failed" (its cause says why), or a socket error from another fetch. */
function isNetworkError(error: unknown): boolean {
  if (error instanceof TypeError && error.message === "fetch failed") return true;
  return typeof (error as { code?: unknown })?.code === "string";
}

let shared: ResilientFetch | undefined;

/**
 * One call with the defaults of {@link createResilientFetch}, sharing one breaker per origin
 * with every other `resilientFetch` call in the process.
 *
 * ```ts
 * const res = await resilientFetch("http://inventory/items/42", { timeoutMs: 1000 });
 * ```
 */
export function resilientFetch(
  input: string | URL | Request,
  init?: ResilientRequestInit,
): Promise<Response> {
  shared ??= createResilientFetch();
  return shared(input, init);
}
