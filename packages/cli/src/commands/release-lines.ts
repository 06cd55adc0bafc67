import type { DecisionRecord, Release } from "@baton/control";
import { formatDuration } from "@baton/control/client";
import type { RouterStatus } from "../up/router-supervisor.js";

/*
 * How the client commands print releases and status. Fields a newer control plane added are
 * optional here: an older one that does not send them is printed without them, never as an error.
 */

/** What a release in flight waits for, as `GET /v1/status` says it. */
export interface Waiting {
  kind: string;
  message: string;
  seconds?: number;
}

/** The audit chain's verification, as `GET /v1/status` says it. */
export interface AuditChain {
  ok: boolean;
  problem?: string;
}

/** A release as the API sends it, with the fields older control planes lack. */
export type ReleaseView = Release & { rollbackOf?: string | null; settings?: Record<string, unknown> | null };

export function describe(r: ReleaseView): string {
  // Older control planes do not say `rollbackOf`; their instant rollbacks are strategy "rollback".
  const rolledBackFrom = r.rollbackOf ?? (r.strategy === "rollback" ? r.previousVersion : null);
  const what = rolledBackFrom
    ? `rollback of ${rolledBackFrom} → ${r.version} (${r.strategy})`
    : `${r.version} (${r.strategy}${r.previousVersion ? ` from ${r.previousVersion}` : ""})`;
  return `${r.id}: ${what} ${r.status}${r.reason ? `: ${r.reason}` : ""}`;
}

export function decision(d: DecisionRecord): string {
  return `step ${d.step + 1} analysis ${d.decision}: ${d.reason}`;
}

export function waitingLine(w: Waiting): string {
  return `WAITING: ${w.message}`;
}

/** Loud on purpose: a broken chain means the record of who did what can no longer be trusted. */
export function auditWarning(chain: AuditChain): string {
  const problem = chain.problem ? `: ${chain.problem}` : "";
  const hint = chain.problem?.includes("baton audit verify")
    ? ""
    : " (baton audit verify lists every broken event)";
  return `WARNING: THE AUDIT CHAIN IS BROKEN${problem}${hint}`;
}

/** The previous version kept warm, and for how much longer. */
export function warmLine(w: { version: string; until: string }): string {
  const left = Date.parse(w.until) - Date.now();
  const time = Number.isFinite(left) && left > 0 ? ` for another ${formatDuration(left)}` : "";
  return `${w.version} kept warm${time} (until ${clockOf(w.until)}; baton rollback is one switch)`;
}

/**
 * The settings a release ran with, in one line: its strategy and that strategy's key settings,
 * instances, the analysis, how long the previous version stays warm and the drain.
 */
export function settingsLine(s: Record<string, unknown>): string {
  const strategy = typeof s.strategy === "string" ? s.strategy : undefined;
  const parts: string[] = [];
  const own = strategy ? obj(s[strategy]) : undefined;
  if (strategy) parts.push(own ? `${strategy} ${strategySettings(strategy, own)}`.trim() : strategy);
  if (typeof s.instances === "number") parts.push(`${s.instances} instance${s.instances === 1 ? "" : "s"}`);
  const a = obj(s.analysis);
  if (a) {
    const bits = [
      num(a.minRequests, (n) => `≥${n} requests`),
      num(a.maxErrorRateIncrease, (n) => `errors +${Number((n * 100).toFixed(2))} pts`),
      num(a.maxP95IncreaseMs, (n) => `p95 +${formatDuration(n)}`),
      num(a.confidence, (n) => `${Number((n * 100).toFixed(2))}% confidence`),
      ...(Array.isArray(a.metrics) ? a.metrics.map(metricBit) : []),
    ].filter(Boolean);
    if (bits.length) parts.push(`analysis ${bits.join(", ")}`);
  }
  const keep = num(s.keepPreviousFor, (n) =>
    n > 0 ? `previous kept ${formatDuration(n)}` : "previous not kept",
  );
  if (keep) parts.push(keep);
  const drain = num(obj(s.drain)?.timeout, (n) => `drain ${formatDuration(n)}`);
  if (drain) parts.push(drain);
  // What a newer control plane records that this CLI does not know: shown as it is, when short.
  for (const [k, v] of Object.entries(s))
    if (!KNOWN_SETTINGS.has(k) && k !== strategy && (typeof v === "string" || typeof v === "number"))
      parts.push(`${k} ${v}`);
  return parts.join("; ");
}

/** One of `analysis.metrics`, e.g. "checkout_completed/request -2%", "payment_latency_ms p95 +50". */
function metricBit(m: unknown): string {
  const o = obj(m);
  if (!o || typeof o.name !== "string") return "";
  const down = typeof o.maxDecrease === "number";
  const t = down ? (o.maxDecrease as number) : typeof o.maxIncrease === "number" ? o.maxIncrease : undefined;
  if (t === undefined) return o.name;
  if (o.per === "request")
    return `${o.name}/request ${down ? "-" : "+"}${Number((t * 100).toFixed(2))}%${o.query ? " (Prometheus)" : ""}`;
  const q = typeof o.quantile === "number" ? ` p${Number((o.quantile * 100).toFixed(1))}` : "";
  return `${o.name}${q} ${down ? "-" : "+"}${t}`;
}

const KNOWN_SETTINGS = new Set(["strategy", "instances", "analysis", "keepPreviousFor", "drain"]);

function strategySettings(strategy: string, own: Record<string, unknown>): string {
  if (strategy === "canary" && Array.isArray(own.steps))
    return own.steps
      .map((step) => {
        const st = obj(step) ?? {};
        const pause = typeof st.pause === "number" ? ` ${formatDuration(st.pause)}` : "";
        const waitsForPromote = st.pause === undefined && st.weight !== 100 ? " until promoted" : "";
        return `${st.weight}%${pause}${waitsForPromote}`;
      })
      .join(" → ");
  return Object.entries(own)
    .map(([k, v]) => `${k} ${durationKey(k) && typeof v === "number" ? formatDuration(v) : show(v)}`)
    .join(", ");
}

/** Settings whose numbers are durations in ms (baton.yaml writes them as "5s", "1m"). */
const durationKey = (k: string) => /(ready|for|analysis|timeout|bake|pause)$/i.test(k);

function show(v: unknown): string {
  return Array.isArray(v)
    ? v.map(show).join(" ")
    : typeof v === "object" && v
      ? JSON.stringify(v)
      : String(v);
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function num(v: unknown, f: (n: number) => string): string {
  return typeof v === "number" && Number.isFinite(v) ? f(v) : "";
}

/** The supervised router in one line: what runs, and whether and why it was restarted. */
export function routerLine(r: RouterStatus): string {
  const head =
    r.state === "running"
      ? `router: pid ${r.pid} on ${r.url}, running since ${clockOf(r.since)}`
      : r.state === "restarting"
        ? `router: DOWN (pid ${r.pid} gone), being restarted${r.nextAttemptAt ? ` (next attempt ${clockOf(r.nextAttemptAt)})` : ""}${r.lastError ? `; last attempt failed: ${r.lastError}` : ""}`
        : `router: pid ${r.pid} (no longer supervised: baton up is stopping)`;
  const last = r.lastRestart;
  if (r.restarts === 0) return r.state === "running" ? `${head}, never restarted` : head;
  return `${head}; restarted ${r.restarts} time${r.restarts === 1 ? "" : "s"}${last ? ` (last ${clockOf(last.at)}, down ${formatDuration(last.downMs)}: ${last.reason})` : ""}`;
}

/** "2025-01-02 10:11:12Z" from an ISO time. */
export function clockOf(iso: string): string {
  return `${iso.slice(0, 19).replace("T", " ")}Z`;
}
