// The release actions, enabled when they apply; abort and roll back ask first.
import { useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { inFlight } from "../format.js";
import { html } from "../html.js";

/** Promote, abort and roll back: what `baton promote`, `baton abort` and `baton rollback` send. */
export function ReleaseActions({ status, onProblem }) {
  const [busy, setBusy] = useState(null);
  const [done, setDone] = useState(null);
  const [rollbackStrategy, setRollbackStrategy] = useState("");
  const running = inFlight(status?.release);
  const act = async (what, path, confirmText, extra = {}) => {
    if (confirmText && !window.confirm(confirmText)) return;
    setBusy(what);
    setDone(null);
    try {
      await api("POST", path, { actor: ACTOR, ...extra });
      setDone(`${what}: asked; the release moves at its next look.`);
      onProblem(null);
    } catch (e) {
      onProblem(`${what} refused: ${e.message}`);
    } finally {
      setBusy(null);
    }
  };
  return html`<section class="card" aria-labelledby="actions-title">
    <h2 id="actions-title">Actions</h2>
    <div class="actions">
      <button onClick=${() => act("Promote", "/v1/promote")} disabled=${!running || busy}>Promote</button>
      <button onClick=${() => act("Abort", "/v1/abort", "Abort the release in flight and send all traffic back?")} disabled=${!running || busy}>Abort</button>
      <button onClick=${() => act("Rollback", "/v1/rollback", "Roll back to the previous release?", rollbackStrategy ? { strategy: rollbackStrategy } : {})} disabled=${running || busy}>Roll back</button>
      <label for="rollback-strategy">Roll back by</label>
      <select id="rollback-strategy" value=${rollbackStrategy} onChange=${(e) => setRollbackStrategy(e.currentTarget.value)} aria-describedby="rollback-strategy-hint">
        <option value="">an instant switch (all at once)</option>
        <option value="canary">canary</option>
        <option value="rolling">rolling</option>
        <option value="blue-green">blue-green</option>
      </select>
    </div>
    <p class="hint" id="rollback-strategy-hint">The strategy is used only when the previous version is no longer kept warm; a warm one comes back in one switch.</p>
    <p class="hint">${running ? "A release is in flight: promote lets it past a pause, abort rolls it back." : "No release in flight: roll back returns to the previous version."}</p>
    ${done && html`<p role="status">${done}</p>`}
  </section>`;
}
