// Each instance as the router sees it, live (every tick): its state in the routing table
// (pending, healthy, unhealthy, ejected, draining), its last health check in words, what it has in flight
// and, for a draining one, when it is stopped whatever is still open.
import { html } from "../html.js";

const STATE_WORDS = {
  pending: "pending: waiting for its first passing checks",
  healthy: "healthy: takes traffic",
  unhealthy: "unhealthy: no traffic",
  ejected: "ejected: no traffic for now",
  draining: "draining: no new requests",
  stopped: "stopped",
};

function healthOf(check) {
  if (!check) return "not checked yet";
  const when = new Date(check.at).toLocaleTimeString();
  return `${check.ok ? "passing" : "failing"} at ${when}${check.detail ? `: ${check.detail}` : ""}`;
}

export function RouterInstances({ router }) {
  if (!router) return null;
  const rows = router.instances ?? [];
  return html`<section class="card" aria-labelledby="router-view-title">
    <h2 id="router-view-title">As the router sees them <span class="hint">(live)</span></h2>
    ${router.error && html`<p class="problem" role="alert">The router did not answer: ${router.error}</p>`}
    ${
      rows.length === 0
        ? html`<p>The router has no instance of this service.</p>`
        : html`<table class="numbers" data-testid="router-instances">
            <thead><tr>
              <th scope="col">Address</th><th scope="col">Version</th><th scope="col">Track (weight)</th><th scope="col">State</th>
              <th scope="col">Health check</th><th scope="col">In flight</th><th scope="col">WebSockets</th>
            </tr></thead>
            <tbody>
              ${rows.map(
                (i) => html`<tr>
                  <th scope="row"><code>${i.address}</code></th>
                  <td>${i.version}</td>
                  <td>${i.track} (${(i.weight / 100).toFixed(0)}%)</td>
                  <td><span class="badge" data-state=${i.state}>${STATE_WORDS[i.state] ?? i.state}</span>${
                    i.drainDeadline ? ` until ${new Date(i.drainDeadline).toLocaleTimeString()}` : ""
                  }</td>
                  <td>${healthOf(i.lastCheck)}</td>
                  <td>${i.inflight}</td>
                  <td>${i.websockets}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
    }
    ${router.pausedRequests > 0 && html`<p>${router.pausedRequests} request(s) held while no instance is ready.</p>`}
  </section>`;
}
