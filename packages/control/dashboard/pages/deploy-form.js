// Deploy a version: POST /v1/deploy, exactly what `baton deploy` sends (version, directory,
// environment, --strategy, --instances).
import { useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { html } from "../html.js";

/** `KEY=VALUE` lines as an object; a line without `=` is a mistake worth naming. */
function parseEnv(text) {
  const env = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    if (at <= 0) throw new Error(`environment line ${i + 1} is not KEY=VALUE: ${line}`);
    env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return env;
}

export function DeployForm({ onProblem, defaultDir }) {
  const [version, setVersion] = useState("");
  const [dir, setDir] = useState("");
  const [envText, setEnvText] = useState("");
  const [strategy, setStrategy] = useState("");
  const [instancesText, setInstancesText] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setDone(null);
    try {
      const env = parseEnv(envText);
      const body = {
        actor: ACTOR,
        ...(version.trim() ? { version: version.trim() } : {}),
        ...(dir.trim() || defaultDir ? { dir: dir.trim() || defaultDir } : {}),
      };
      if (Object.keys(env).length > 0) body.env = env;
      if (strategy) body.strategy = strategy;
      const instances = instancesText.split(/[\s,]+/).filter(Boolean);
      if (instances.length > 0) body.instances = instances;
      const release = await api("POST", "/v1/deploy", body);
      setDone(`Release #${release.id} of ${release.version} started.`);
      onProblem(null);
    } catch (err) {
      onProblem(`Deploy refused: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card" aria-labelledby="deploy-title">
    <h2 id="deploy-title">Deploy a version</h2>
    <form class="deploy" onSubmit=${submit}>
      <label for="deploy-version">Version</label>
      <input id="deploy-version" name="version" value=${version} onInput=${(e) => setVersion(e.currentTarget.value)} placeholder="v2" autocomplete="off" />
      <label for="deploy-dir">Directory on the control plane's machine</label>
      <input
        id="deploy-dir"
        name="dir"
        value=${dir}
        onInput=${(e) => setDir(e.currentTarget.value)}
        placeholder=${defaultDir ?? ""}
        aria-describedby="deploy-dir-hint"
        autocomplete="off"
      />
      <p class="hint" id="deploy-dir-hint">${defaultDir ? `Empty: the latest release's, ${defaultDir}` : "Where the version's files are"}</p>
      <label for="deploy-env">Environment <span class="hint">(KEY=VALUE, one a line)</span></label>
      <textarea id="deploy-env" name="env" rows="2" value=${envText} onInput=${(e) => setEnvText(e.currentTarget.value)}></textarea>
      <label for="deploy-strategy">Strategy</label>
      <select id="deploy-strategy" name="strategy" value=${strategy} onChange=${(e) => setStrategy(e.currentTarget.value)}>
        <option value="">baton.yaml's</option>
        <option value="canary">canary</option>
        <option value="rolling">rolling</option>
        <option value="blue-green">blue-green</option>
      </select>
      <label for="deploy-instances">Instances <span class="hint">(static provider only: host:port, one a line)</span></label>
      <textarea id="deploy-instances" name="instances" rows="1" value=${instancesText} onInput=${(e) => setInstancesText(e.currentTarget.value)}></textarea>
      <button type="submit" disabled=${busy}>${busy ? "Deploying…" : "Deploy"}</button>
    </form>
    ${done && html`<p role="status" data-testid="deploy-done">${done}</p>`}
  </section>`;
}
