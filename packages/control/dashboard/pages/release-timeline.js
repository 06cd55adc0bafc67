// A release's timeline: what it said as it ran (instances started and ready, weights, verdicts,
// drains, the migration's progress), with times, from `GET /v1/releases/{id}/events`. Refetched
// every 2 s while the release runs; newest at the bottom, as a terminal shows them.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { html } from "../html.js";

const RUNNING = new Set(["starting", "progressing", "rolling-back"]);

export function ReleaseTimeline({ release }) {
  const [events, setEvents] = useState(null);
  const [problem, setProblem] = useState(null);
  const running = RUNNING.has(release.status);

  useEffect(() => {
    let stopped = false;
    const load = () =>
      api("GET", `/v1/releases/${release.id}/events`).then(
        (d) => {
          if (stopped) return;
          setEvents(d.events);
          setProblem(null);
        },
        (e) => !stopped && setProblem(e.message),
      );
    load();
    const timer = running ? setInterval(load, 2000) : undefined;
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [release.id, running, release.updatedAt]);

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
