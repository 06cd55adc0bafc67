// The Audit page's table of events, newest first; each event's details open as JSON.
import { when } from "../format.js";
import { html } from "../html.js";

const LEAD = ["reason", "message", "outcome", "error"];

/** A line about an event from its details: its reason or outcome first, then its plain values. */
export function summaryOf(event) {
  const d = event.details ?? {};
  const first = LEAD.map((k) => d[k]).find((v) => typeof v === "string");
  const plain = Object.entries(d)
    .filter(([k, v]) => v !== null && typeof v !== "object" && !LEAD.includes(k))
    .map(([k, v]) => `${k}: ${v}`);
  const text = [first, ...plain].filter(Boolean).join(" · ");
  return text.length > 120 ? `${text.slice(0, 119)}…` : text || "(no details)";
}

export function AuditEvents({ events }) {
  if (events.length === 0) return html`<p data-testid="audit-empty">No event matches these filters.</p>`;
  return html`<table class="numbers audit-events" data-testid="audit-events">
    <caption class="hint">Newest first; open an event's summary for everything it recorded.</caption>
    <thead>
      <tr>
        <th scope="col">#</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th>
        <th scope="col">Service</th><th scope="col">Version</th><th scope="col">Summary</th>
      </tr>
    </thead>
    <tbody>
      ${events.map(
        (e) => html`<tr data-seq=${e.seq} data-action=${e.action}>
          <th scope="row">${e.seq}</th>
          <td><time datetime=${e.at}>${when(e.at)}</time></td>
          <td>${e.actor}</td>
          <td><code>${e.action}</code></td>
          <td>${e.service}</td>
          <td>${e.version ?? "–"}</td>
          <td class="reason-cell">
            <details>
              <summary>${summaryOf(e)}</summary>
              <pre tabindex="0" role="region" aria-label=${`Event ${e.seq} as recorded`}>${JSON.stringify(
                {
                  ...(e.strategy ? { strategy: e.strategy } : {}),
                  details: e.details,
                  hash: e.hash,
                  prevHash: e.prevHash,
                },
                null,
                2,
              )}</pre>
            </details>
          </td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}
