// Start a migration file by hand: what `baton migrate start <file>` does, from the page. The
// server checks the file and starts it in the background; the page then shows its progress.
import { useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { html } from "../html.js";

/** `defaultFile`: the latest release's directory joined with baton.yaml's migration.file, if known. */
export function MigrationStartForm({ defaultFile, onStarted, onProblem }) {
  const [file, setFile] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const path = file.trim() || defaultFile;
    if (!path) return onProblem("Start refused: give the migration file's absolute path.");
    if (!window.confirm(`Start the migration in ${path} on the application's database now?`)) return;
    setBusy(true);
    try {
      const r = await api("POST", "/v1/migration/start", { file: path, actor: ACTOR });
      onStarted(`Migration ${r.migration} starting on ${r.schema}: its progress shows below.`);
    } catch (err) {
      onProblem(`Start refused: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="deploy" onSubmit=${submit} data-testid="migration-start">
    <label for="migration-file">Start a migration file by hand <span class="hint">(as <code>baton migrate start</code>)</span></label>
    <input
      id="migration-file"
      value=${file}
      onInput=${(e) => setFile(e.currentTarget.value)}
      placeholder=${defaultFile ?? "/srv/shop/v3/migration.yaml"}
      aria-describedby="migration-file-hint"
      autocomplete="off"
    />
    <p class="hint" id="migration-file-hint">An absolute path on the control plane's machine${defaultFile ? `; empty: ${defaultFile}` : ""}. Refused while a release is in flight or another migration is in progress.</p>
    <button type="submit" disabled=${busy}>${busy ? "Starting…" : "Start migration"}</button>
  </form>`;
}
