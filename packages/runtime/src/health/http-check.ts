import type { HealthCheck } from "./health-check.js";

export interface HttpCheckOptions {
  /** Default: the URL's host ("payments.internal:8080"). */
  name?: string;
  /** Default true. */
  critical?: boolean;
  timeoutMs?: number;
  /** The status (or statuses, or test) that means healthy. Default: any 2xx. */
  expectStatus?: number | number[] | ((status: number) => boolean);
  /** Default "GET". */
  method?: string;
  headers?: Record<string, string>;
}

/**
 * Checks an HTTP dependency: a request to `url` must answer the expected status within the
 * timeout (the request is aborted then). The body is read and discarded, so the connection can
 * be reused.
 */
export function httpCheck(url: string | URL, options: HttpCheckOptions = {}): HealthCheck {
  const target = new URL(url);
  const expect = options.expectStatus;
  const ok =
    typeof expect === "function"
      ? expect
      : Array.isArray(expect)
        ? (s: number) => expect.includes(s)
        : typeof expect === "number"
          ? (s: number) => s === expect
          : (s: number) => s >= 200 && s < 300;
  return {
    name: options.name ?? target.host,
    critical: options.critical ?? true,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    async run(signal) {
      const res = await fetch(target, {
        method: options.method ?? "GET",
        ...(options.headers ? { headers: options.headers } : {}),
        signal,
        redirect: "manual",
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!ok(res.status))
        throw Object.assign(new Error(`${target.href} answered ${res.status}, not the status expected`), {
          details: { status: res.status },
        });
      return { details: { status: res.status } };
    },
  };
}
