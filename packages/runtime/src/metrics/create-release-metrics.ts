import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { hostname } from "node:os";
import { Counter, register as globalRegistry, Histogram, type Registry } from "prom-client";
import { METRIC_NAME, type MetricsPayload, MetricsReport } from "./metrics-report.js";

export interface ReleaseMetricsOptions {
  /**
   * The control plane's client API, e.g. `http://127.0.0.1:7070/api`. Default: the environment's
   * `BATON_METRICS_URL`, else `BATON_FLAGS_URL` (both set by `baton up` for its instances).
   * Without one, metrics are kept for Prometheus (see `registry`) and nothing is sent.
   */
  url?: string;
  /** A client token (`baton flags token create`). Default: `BATON_METRICS_TOKEN`, else `BATON_FLAGS_TOKEN`. */
  token?: string;
  /** The service, as baton.yaml names it. Default: `BATON_SERVICE`. */
  service?: string;
  /** This instance's version. Default: `BATON_VERSION` (set by Baton when it starts an instance). */
  version?: string;
  /** Default: the host name and process id. */
  instanceId?: string;
  /** How often to report, ms (default 1000); 0: only on `flush()`. */
  intervalMs?: number;
  /**
   * Also exposes each metric to this prom-client registry (counters as `<name>_total`, with a
   * `version` label), for a Prometheus that scrapes the service. `false`: not at all. Default: the
   * global registry.
   */
  registry?: Registry | false;
  /**
   * Which requests count as requests for metrics `per: request`: every request any node:http
   * server of this process (Express and Fastify included) handles, except health probes (user
   * agents baton-router-health, baton-control-health and kube-probe), by default. A function decides per request;
   * `false` counts none (the control plane then divides by the router's count, which lags the
   * reports by up to a second).
   */
  countRequests?: boolean | ((request: IncomingMessage) => boolean);
  /** A failed report (it is kept and sent with the next one). Default: one line on stderr, then quiet until a report succeeds. */
  onError?: (error: Error) => void;
}

/** A service's own numbers, per version, for the release analysis (`analysis.metrics` in baton.yaml). */
export interface ReleaseMetrics {
  /** Counts an event, e.g. `count("checkout_completed")`. */
  count(name: string, by?: number): void;
  /** Records a value, e.g. `observe("payment_latency_ms", 183)`. Resolution: two significant digits. */
  observe(name: string, value: number): void;
  /** Sends what was gathered now. */
  flush(): Promise<void>;
  /** Stops reporting, after sending what is left (call it from a shutdown hook). */
  close(): Promise<void>;
}

/**
 * Business metrics per version, sent to Baton's control plane every second, so that a canary whose
 * checkouts fall is rolled back even when its error rate and latency look fine. Cheap on the
 * request path (a map update); the report is one small POST a second per instance.
 */
export function createReleaseMetrics(options: ReleaseMetricsOptions = {}): ReleaseMetrics {
  const env = process.env;
  const url = options.url ?? env.BATON_METRICS_URL ?? env.BATON_FLAGS_URL;
  const token = options.token ?? env.BATON_METRICS_TOKEN ?? env.BATON_FLAGS_TOKEN;
  const service = options.service ?? env.BATON_SERVICE;
  const version = options.version ?? env.BATON_VERSION ?? "unknown";
  const instanceId = options.instanceId ?? `${hostname()}:${process.pid}`;
  const report = new MetricsReport();
  const prom =
    options.registry === false ? undefined : promMirror(options.registry ?? globalRegistry, version);
  let quiet = false;
  const onError =
    options.onError ??
    ((error: Error) => {
      if (!quiet)
        process.stderr.write(
          `@baton/runtime: release metrics not sent (kept for the next report): ${error.message}\n`,
        );
      quiet = true;
    });
  const missing = !url
    ? "url (BATON_METRICS_URL)"
    : !token
      ? "token (BATON_METRICS_TOKEN)"
      : !service
        ? "service (BATON_SERVICE)"
        : undefined;

  // Half a configuration is a mistake worth one line; none at all is a choice (Prometheus only).
  if (url && missing)
    process.stderr.write(`@baton/runtime: release metrics will not be sent: no ${missing}\n`);

  let inFlight: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    if (inFlight) await inFlight;
    if (missing) return;
    const taken = report.take();
    if (!taken) return;
    const payload: MetricsPayload = { service: service!, version, instanceId, ...taken };
    inFlight = send(`${url!.replace(/\/+$/, "")}/client/release-metrics`, token!, payload)
      .then(() => {
        quiet = false;
      })
      .catch((error: Error & { status?: number }) => {
        // A report the control plane refuses as such (400, 413) would be refused again for ever,
        // and every later count with it: dropped. Anything else (down, 401, 429, 5xx) is kept.
        if (error.status !== 400 && error.status !== 413) report.restore(taken);
        onError(error);
      })
      .finally(() => (inFlight = undefined));
    await inFlight;
  };

  // Requests are counted where Node announces them, so no middleware is needed and the counts and
  // the requests they are divided by travel in the same report.
  const counts = options.countRequests ?? true;
  const isRequest =
    typeof counts === "function"
      ? counts
      : (r: IncomingMessage) => !PROBE.test(r.headers["user-agent"] ?? "");
  const onRequest = (message: unknown) => {
    if (isRequest((message as { request: IncomingMessage }).request)) report.request();
  };
  if (counts !== false) subscribe(REQUEST_START, onRequest);

  const intervalMs = options.intervalMs ?? 1000;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (closed || intervalMs <= 0 || missing) return;
    timer = setTimeout(() => void flush().finally(schedule), intervalMs);
    timer.unref();
  };
  schedule();

  const names = new Set<string>();
  let tooMany = false;
  /** Whether to record `name`: a valid name, among the first MAX_NAMES this process used. */
  const checkName = (name: string): boolean => {
    if (names.has(name)) return true;
    if (!METRIC_NAME.test(name) || RESERVED.has(name))
      throw new TypeError(
        `metric name ${JSON.stringify(name)} is not valid: letters, digits, _ and :, not starting with a digit, at most 200 characters, not __proto__`,
      );
    if (names.size >= MAX_NAMES) {
      // Names made from data (a user id in the name) would grow every report: the rest is dropped.
      if (!tooMany)
        process.stderr.write(
          `@baton/runtime: more than ${MAX_NAMES} release metric names; ${JSON.stringify(name)} and later new names are not recorded (put ids in values, not in names)\n`,
        );
      tooMany = true;
      return false;
    }
    names.add(name);
    return true;
  };
  return {
    count(name, by = 1) {
      if (!checkName(name)) return;
      if (!(by >= 0) || !Number.isFinite(by))
        throw new RangeError(`count(${name}, ${by}): a counter only goes up by a finite amount`);
      report.count(name, by);
      prom?.count(name, by);
    },
    observe(name, value) {
      if (!checkName(name)) return;
      if (!Number.isFinite(value))
        throw new RangeError(`observe(${name}, ${value}): the value must be a finite number`);
      report.observe(name, value);
      prom?.observe(name, value);
    },
    flush,
    async close() {
      if (counts !== false) unsubscribe(REQUEST_START, onRequest);
      closed = true;
      clearTimeout(timer);
      await flush();
    },
  };
}

const REQUEST_START = "http.server.request.start";
/** Below the control plane's 500 a report, with room for the requests count. */
const MAX_NAMES = 200;
const RESERVED = new Set(["__proto__", "constructor", "prototype"]);
/** Health probes are not traffic: Baton's router and Kubernetes announce themselves. */
const PROBE = /^(baton-router-health|baton-control-health|kube-probe\/)/;

async function send(url: string, token: string, payload: MetricsPayload): Promise<void> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: token },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) {
    const text = (await res.text().catch(() => "")).slice(0, 300);
    const hint =
      (res.status === 401 || res.status === 404) &&
      !/\/api\/client\/release-metrics$/.test(new URL(url).pathname)
        ? " (url is the control plane's client API, ending in /api, as BATON_FLAGS_URL)"
        : "";
    throw Object.assign(new Error(`POST ${url}: ${res.status} ${text}${hint}`), { status: res.status });
  }
  await res.body?.cancel().catch(() => {});
}

/** The same metrics in prom-client, created on first use, so a Prometheus scrape sees them too. */
function promMirror(registry: Registry, version: string) {
  const counters = new Map<string, Counter<"version">>();
  const histograms = new Map<string, Histogram<"version">>();
  const existing = (name: string) => registry.getSingleMetric(name);
  return {
    count(name: string, by: number) {
      let c = counters.get(name);
      if (!c) {
        const full = `${name}_total`;
        c =
          (existing(full) as Counter<"version"> | undefined) ??
          new Counter({
            name: full,
            help: `${name} (@baton/runtime release metric)`,
            labelNames: ["version"],
            registers: [registry],
          });
        counters.set(name, c);
      }
      c.inc({ version }, by);
    },
    observe(name: string, value: number) {
      let h = histograms.get(name);
      if (!h) {
        h =
          (existing(name) as Histogram<"version"> | undefined) ??
          new Histogram({
            name,
            help: `${name} (@baton/runtime release metric)`,
            labelNames: ["version"],
            registers: [registry],
          });
        histograms.set(name, h);
      }
      h.observe({ version }, value);
    },
  };
}
