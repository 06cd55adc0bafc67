// Audit: whether the chain of audit events is intact, shown first and in words.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { html } from "../html.js";

export function AuditPage() {
  const [result, setResult] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
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
  useEffect(() => void verify(), []);
  const problems = result?.problems ?? [];
  return html`
    <h1>Audit log</h1>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    <section class=${`card verdict ${result ? (problems.length === 0 ? "intact" : "broken") : ""}`} aria-labelledby="verify-title" data-testid="audit-verdict">
      <h2 id="verify-title">
        ${!result ? "Verifying the audit chain…" : problems.length === 0 ? `Chain intact: ${result.rows} events verified` : `Chain BROKEN: ${problems.length} problem${problems.length === 1 ? "" : "s"} in ${result.rows} events`}
      </h2>
      <p class="hint">Every event carries the hash of the one before it: a change, removal or reordering of any event breaks the chain from there on.</p>
      ${
        problems.length > 0 &&
        html`<ol class="problems">
        ${problems.map((p) => html`<li>Event ${p.seq}: ${p.problem}: ${p.detail}</li>`)}
      </ol>`
      }
      <button onClick=${verify} disabled=${busy}>${busy ? "Verifying…" : "Verify again"}</button>
      ${result && html`<p class="hint">Checked at ${result.at.toLocaleTimeString()}.</p>`}
    </section>`;
}
