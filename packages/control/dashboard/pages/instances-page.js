// Instances: each version's instances with their state, the router's live view of them, and the
// tail of each one's log.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { html } from "../html.js";
import { RouterInstances } from "./router-instances.js";

const LINES = 20;

export function InstancesPage({ live }) {
  const services = live.tick ? (live.tick.status.regions ?? [live.tick.status]) : [];
  const [logs, setLogs] = useState(null);
  const [problem, setProblem] = useState(null);
  const load = () =>
    api("GET", `/v1/logs?lines=${LINES}`).then(
      (tails) => {
        setLogs(tails);
        setProblem(null);
      },
      (e) => setProblem(e.message),
    );
  useEffect(() => void load(), []);

  return html`
    <h1>Instances</h1>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    ${services.map(
      (s) => html`<section class="card" aria-labelledby=${`inst-${s.service}-${s.region ?? ""}`}>
        <h2 id=${`inst-${s.service}-${s.region ?? ""}`}>${s.region ? `${s.service} in ${s.region}` : s.service}</h2>
        <table class="numbers" data-testid="instances">
          <thead><tr><th scope="col">Version</th><th scope="col">Role</th><th scope="col">Address</th><th scope="col">State</th><th scope="col">Process</th></tr></thead>
          <tbody>
            ${[
              ...(s.serving?.instances ?? []).map((i) => ({
                ...i,
                version: s.serving.version,
                role: "serving",
              })),
              ...(s.warm?.instances ?? []).map((i) => ({
                ...i,
                version: s.warm.version,
                role: `kept warm until ${new Date(s.warm.until).toLocaleTimeString()}`,
              })),
            ].map(
              (i) => html`<tr>
                <th scope="row">${i.version}</th><td>${i.role}</td><td><code>${i.address}</code></td>
                <td><span class="badge" data-state=${i.state}>${i.state}</span></td><td>${i.pid ? `pid ${i.pid}` : "elsewhere"}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </section>`,
    )}
    <${RouterInstances} router=${live.tick?.router} />
    <section class="card" aria-labelledby="logs-title">
      <h2 id="logs-title">Log tails <span class="hint">(last ${LINES} lines of each instance)</span></h2>
      <button onClick=${load}>Refresh logs</button>
      ${logs?.length === 0 && html`<p>No instance logs on this control plane's machine.</p>`}
      ${(logs ?? []).map(
        (t) => html`<details class="log">
          <summary>${t.version}: ${t.instance}${t.live === false ? " (stopped)" : ""}</summary>
          <pre tabindex="0" role="region" aria-label=${`Log of ${t.version} ${t.instance}`}>${t.lines.join("\n") || "(empty)"}</pre>
        </details>`,
      )}
    </section>`;
}
