import { Agent, request } from "undici";

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  /** Failure descriptions (status or error code) with their counts. */
  failures: Record<string, number>;
  byVersion: Record<string, number>;
  seconds: number;
}

export interface LoadOptions {
  url: string;
  /** Target requests per second across all workers. */
  rate: number;
  concurrency?: number;
  method?: string;
  /** Makes the body of each request (e.g. a unique id for POSTs). */
  body?: (n: number) => string | undefined;
  headers?: (n: number) => Record<string, string>;
}

/**
 * Open-ish loop load generator on keep-alive connections: each worker fires at its share of the
 * rate. Stops when `stop()` is called; bounded by the caller's own timers.
 */
export function startLoad(opts: LoadOptions): { stop(): Promise<LoadResult>; result: LoadResult } {
  const concurrency = opts.concurrency ?? 32;
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 4_000, pipelining: 1 });
  const result: LoadResult = { sent: 0, ok: 0, failed: 0, failures: {}, byVersion: {}, seconds: 0 };
  const started = Date.now();
  let running = true;
  const intervalMs = (1000 * concurrency) / opts.rate;
  let n = 0;
  const worker = async () => {
    let next = Date.now();
    while (running) {
      const id = n++;
      result.sent++;
      try {
        const res = await request(opts.url, {
          method: (opts.method ?? "GET") as "GET",
          dispatcher: agent,
          headers: opts.headers?.(id),
          body: opts.body?.(id),
        });
        await res.body.dump();
        const v = String(res.headers["x-baton-version"] ?? "none");
        result.byVersion[v] = (result.byVersion[v] ?? 0) + 1;
        if (res.statusCode < 500) result.ok++;
        else {
          result.failed++;
          const k = `HTTP ${res.statusCode}`;
          result.failures[k] = (result.failures[k] ?? 0) + 1;
        }
      } catch (err) {
        result.failed++;
        const k = (err as { code?: string }).code ?? (err as Error).message;
        result.failures[k] = (result.failures[k] ?? 0) + 1;
      }
      next += intervalMs;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else if (wait < -1000) next = Date.now(); // fell behind: do not burst to catch up
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(workers);
      result.seconds = (Date.now() - started) / 1000;
      await agent.close();
      return result;
    },
  };
}
