// A release's timeline: what it said as it ran (instances started and ready, weights, verdicts,
// drains, the migration's progress), with times, from `GET /v1/releases/{id}/events`. Refetched
// every 2 s while the release runs; newest at the bottom, as a terminal shows them.
import { html } from "../html.js";
import { useReleaseData } from "./use-release-data.js";

export function ReleaseTimeline({ release }) {
  const { data, problem, running } = useReleaseData(release, "events");
  const events = data?.events ?? null;

  if (problem) return html`<p class="problem" role="alert">The timeline could not be read: ${problem}</p>`;
  if (!events) return null;
  return html`<details class="timeline" open=${running} data-testid="timeline">
    <summary>Timeline (${events.length} ${events.length === 1 ? "line" : "lines"})</summary>
    ${
      events.length === 0
        ? html`<p class="hint">Nothing recorded for this release (releases before this version kept no timeline).</p>`
        : html`<ol class="lines" tabindex="0" aria-label="What the release did, oldest first">
            ${events.map(
              (e) =>
                html`<li><time datetime=${e.at}>${new Date(e.at).toLocaleTimeString()}</time> <span>${e.line.trim()}</span></li>`,
            )}
          </ol>`
    }
  </details>`;
}
