// Audit: whether the chain of audit events is intact, shown first and in words; then the events,
// filtered (the filters live in the URL, to share), newest first, a page at a time.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { html } from "../html.js";
import { AuditEvents } from "./audit-events.js";
import { AuditFilterForm, filtersFromHash, showFilters } from "./audit-filters.js";

const PAGE = 50;

const count = (n) => n.toLocaleString("en-US");
const plural = (n, one) => `${count(n)} ${one}${n === 1 ? "" : "s"}`;

function Verification({ result, head, busy, onVerify }) {
  const problems = result?.problems ?? [];
  const state = result ? (problems.length === 0 ? "intact" : "broken") : "";
  const title = !result
    ? "Verifying the audit chain…"
    : problems.length === 0
      ? `Chain verified: ${plural(result.rows, "event")}${head?.hash ? `, last hash ${head.hash.slice(0, 16)}…` : ""}`
      : `Chain BROKEN: ${plural(problems.length, "problem")} in ${plural(result.rows, "event")}`;
  return html`<section class=${`card verdict ${state}`} aria-labelledby="verify-title" data-testid="audit-verdict">
    <h2 id="verify-title">${title}</h2>
    <p class="hint">Every event carries the hash of the one before it: a change, removal or reordering of any event breaks the chain from there on.</p>
    ${
      problems.length > 0 &&
      html`<ol class="problems">
        ${problems.map(
          (p) => html`<li>
            Event ${p.seq}: ${p.problem}: ${p.detail}${" "}
            <button type="button" class="link" onClick=${() => showFilters({ before: String(p.seq + 1) })}>show event ${p.seq} and older</button>
          </li>`,
        )}
      </ol>`
    }
    <button onClick=${onVerify} disabled=${busy}>${busy ? "Verifying…" : "Verify again"}</button>
    ${result && html`<p class="hint">Checked at ${result.at.toLocaleTimeString()}.</p>`}
  </section>`;
}

export function AuditPage({ live }) {
  const [filters, setFilters] = useState(filtersFromHash);
  const [result, setResult] = useState(null);
  const [page, setPage] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const [loading, setLoading] = useState(false);
  // The answer to the latest request only: a slow earlier one must not overwrite it.
  const asked = useRef(0);

  const verify = async () => {
    setBusy(true);
    try {
      setResult({ ...(await api("GET", "/v1/audit/verify")), at: new Date() });
      setProblem(null);
    } catch (e) {
      setProblem(e.message);
    } finally {
      setBusy(false);
    }
  };

  /** The first page for the filters, or (with `before`) the next, older one appended. */
  const load = async (older) => {
    const n = ++asked.current;
    const params = new URLSearchParams({ ...filters, limit: String(PAGE) });
    if (older) params.set("before", String(older));
    setLoading(true);
    try {
      const answer = await api("GET", `/v1/audit?${params}`);
      if (n !== asked.current) return;
      // With the filters it answers: the words above the table describe what it shows.
      setPage((now) =>
        older && now
          ? { ...now, ...answer, events: [...now.events, ...answer.events] }
          : { ...answer, filters },
      );
      setProblem(null);
    } catch (e) {
      if (n === asked.current) setProblem(e.message);
    } finally {
      if (n === asked.current) setLoading(false);
    }
  };

  useEffect(() => {
    void verify();
    const onHash = () => setFilters(filtersFromHash());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => void load(), [JSON.stringify(filters)]);
  // New events (a release moved, a flag changed) show up by themselves while only the first page is shown.
  const release = live?.tick?.status?.release;
  const moved = `${release?.id}:${release?.status}:${release?.step}:${live?.tick?.flags?.changeId}`;
  const first = useRef(moved);
  useEffect(() => {
    if (first.current === moved) return;
    first.current = moved;
    if (!page || page.events.length <= PAGE) void load();
  }, [moved]);

  const described = Object.entries(page?.filters ?? {})
    .map(([k, v]) => `${k} "${k === "since" || k === "until" ? new Date(v).toLocaleString() : v}"`)
    .join(", ");
  return html`
    <h1>Audit log</h1>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    <${Verification} result=${result} head=${page?.head} busy=${busy} onVerify=${() => {
      void verify();
      void load();
    }} />
    <section class="card">
      <${AuditFilterForm} filters=${filters} />
    </section>
    <section class="card" aria-labelledby="audit-events-title" aria-busy=${loading ? "true" : "false"}>
      <h2 id="audit-events-title">Events</h2>
      <p class="hint" role="status" data-testid="audit-shown">
        ${page ? `${plural(page.events.length, "event")} shown${described ? `, where ${described}` : ""}${page.next ? "; older ones below" : ""}.` : "Loading events…"}
      </p>
      ${page && html`<${AuditEvents} events=${page.events} />`}
      ${page?.next && html`<button onClick=${() => load(page.next)} disabled=${loading}>${loading ? "Loading…" : "Older events"}</button>`}
    </section>`;
}
