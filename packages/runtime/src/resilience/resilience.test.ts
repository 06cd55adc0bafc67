import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { breakerCheck } from "./breaker-check.js";
import { isIdempotentRequest, neverSent } from "./idempotent-request.js";
import { resilience } from "./resilience.js";
import { isResilienceError, type ResilienceError } from "./resilience-error.js";
import { retryAfterMs } from "./retry-after.js";

const FAST = { backoff: { initialMs: 2, maxMs: 10 }, registry: new Registry() };
const signal = () => new AbortController().signal;

async function caught(p: Promise<unknown>): Promise<ResilienceError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (isResilienceError(e)) return e;
  throw new Error(`expected a ResilienceError, got ${String(e)}`);
}

describe("resilience()", () => {
  it("retries only when asked, and gives the function's own error back when the retries are spent", async () => {
    let calls = 0;
    const flaky = async () => {
      if (++calls <= 2) throw new Error(`not ready (${calls})`);
      return "rows";
    };
    const once = resilience({ ...FAST, name: "orders-db" });
    await expect(once.execute(flaky)).rejects.toThrow("not ready (1)");
    expect(calls).toBe(1);
    const thrice = resilience({ ...FAST, name: "orders-db-2", retries: 2 });
    calls = 0;
    await expect(thrice.execute(flaky)).resolves.toBe("rows");
    expect(calls).toBe(3);
  });

  it("aborts the attempt's signal at the timeout and says so", async () => {
    const db = resilience({ ...FAST, name: "orders-db", timeoutMs: 50 });
    let aborted = false;
    const e = await caught(
      db.execute(
        (s) =>
          new Promise((resolve) => {
            s.addEventListener("abort", () => {
              aborted = true;
            });
            setTimeout(resolve, 1000).unref();
          }),
      ),
    );
    expect(aborted).toBe(true);
    expect(e.code).toBe("BATON_TIMEOUT");
    expect(e.message).toBe("orders-db: call timed out after 50 ms (attempt 1 of 1); aborted");
  });

  it("opens a sampling breaker when most calls fail, and reports it in health", async () => {
    const queue = resilience({
      ...FAST,
      name: "queue",
      breaker: { sampling: { threshold: 0.5, durationMs: 1000, minimumRps: 5 }, halfOpenAfterMs: 5000 },
    });
    const check = breakerCheck("queue", queue, { critical: true });
    expect(check.critical).toBe(true);
    let refused: ResilienceError | undefined;
    for (let i = 0; i < 50 && !refused; i++) {
      const e = await queue
        .execute(() => Promise.reject(new Error("publish failed")))
        .catch((x: unknown) => x);
      if (isResilienceError(e, "BATON_CIRCUIT_OPEN")) refused = e;
    }
    expect(refused?.message).toMatch(
      /^queue: circuit open since \d\d:\d\d:\d\d after more than 50% of calls failed over 1s \(last: publish failed\); retry in 5s$/,
    );
    expect(queue.breakerStatus()).toMatchObject({ state: "open", lastFailure: "publish failed" });
    await expect(check.run(signal())).rejects.toThrow(/^queue: circuit open since/);
  });

  it("refuses beyond the bulkhead's limit and queue", async () => {
    const pdf = resilience({ ...FAST, name: "pdf", bulkhead: { limit: 1, queue: 1 } });
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = pdf.execute(() => gate.then(() => 1));
    const second = pdf.execute(() => 2);
    const e = await caught(pdf.execute(() => 3));
    expect(e.code).toBe("BATON_BULKHEAD_FULL");
    expect(e.message).toBe(
      "pdf: bulkhead full: 1 call running and 1 queued; call refused without being sent",
    );
    release();
    expect(await Promise.all([first, second])).toEqual([1, 2]);
  });

  it("falls back on failure, but not when the caller aborted", async () => {
    const prices = resilience({
      ...FAST,
      name: "prices",
      fallback: (e) => `cached (${(e as Error).message})`,
    });
    expect(await prices.execute(() => Promise.reject(new Error("down")))).toBe("cached (down)");
    const ctrl = new AbortController();
    const p = prices.execute(
      (s) => new Promise((_r, reject) => s.addEventListener("abort", () => reject(s.reason))),
      ctrl.signal,
    );
    ctrl.abort(new Error("client went away"));
    await expect(p).rejects.toThrow("client went away");
  });

  it("breakerCheck reads a cockatiel breaker too, and an isolated one fails", async () => {
    const raw = circuitBreaker(handleAll, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(2) });
    const check = breakerCheck("legacy", raw);
    expect(await check.run(signal())).toEqual({ details: { legacy: { state: "closed" } } });
    const held = raw.isolate();
    expect(raw.state).toBe(CircuitState.Isolated);
    await expect(check.run(signal())).rejects.toThrow("legacy: circuit isolated");
    held.dispose();
  });
});

describe("what may be sent twice", () => {
  it("follows the method, the Idempotency-Key header, or the caller", () => {
    const none = new Headers();
    expect(["GET", "head", "PUT", "DELETE", "OPTIONS"].every((m) => isIdempotentRequest(m, none))).toBe(true);
    expect(isIdempotentRequest("POST", none)).toBe(false);
    expect(isIdempotentRequest("PATCH", none)).toBe(false);
    expect(isIdempotentRequest("POST", new Headers({ "Idempotency-Key": "abc" }))).toBe(true);
    expect(isIdempotentRequest("POST", none, true)).toBe(true);
    expect(isIdempotentRequest("GET", none, false)).toBe(false);
  });

  it("knows a refused connection sent nothing, and a reset may have", () => {
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }),
    });
    const happyEyeballs = new TypeError("fetch failed", {
      cause: Object.assign(new AggregateError([Object.assign(new Error(), { code: "ECONNREFUSED" })]), {}),
    });
    const reset = new TypeError("fetch failed", {
      cause: Object.assign(new Error("x"), { code: "ECONNRESET" }),
    });
    expect(neverSent(refused)).toBe(true);
    expect(neverSent(happyEyeballs)).toBe(true);
    expect(neverSent(reset)).toBe(false);
  });

  it("reads Retry-After as seconds or as a date", () => {
    const now = Date.parse("2026-12-07T12:00:00Z");
    expect(retryAfterMs("3", now)).toBe(3000);
    expect(retryAfterMs("Mon, 07 Dec 2026 12:00:10 GMT", now)).toBe(10_000);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});
