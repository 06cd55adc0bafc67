// One backfill's progress: a real <progress> bar with rows done of the estimate, rows/s and the time left.
import { html } from "../html.js";

const count = (n) => n.toLocaleString();

/** "about 40 s", "about 3 min", "about 2 h 5 min" */
export function etaWords(seconds) {
  if (seconds === null || seconds === undefined) return null;
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min`;
  return `about ${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A backfill's state in words (never colour alone). */
function stateWords(b) {
  if (b.finished) return "done";
  if (b.running) return "running";
  return "stopped (its process is gone: run the migration's start again to resume)";
}

export function BackfillProgress({ backfill: b }) {
  const id = `backfill-${b.operation}-${b.column}`;
  const known = b.total !== null;
  const numbers = [
    known
      ? `${count(b.done)} of ${count(b.total)} rows (${b.percent}%)`
      : `${count(b.done)} rows so far (the table's size is not known yet)`,
    !b.finished && `${count(b.rowsPerSecond)} rows/s`,
    !b.finished && etaWords(b.etaSeconds) && `${etaWords(b.etaSeconds)} left`,
  ].filter(Boolean);
  return html`<div class="backfill" data-testid="backfill" data-state=${b.finished ? "done" : b.running ? "running" : "stopped"}>
    <label class="backfill-label" for=${id}>
      Backfill of <code>${b.table}.${b.column}</code> (operation ${b.operation}): <strong>${stateWords(b)}</strong>
    </label>
    ${
      known
        ? html`<progress id=${id} max=${b.total} value=${b.done} aria-valuetext=${numbers[0]}>${b.percent}%</progress>`
        : html`<progress id=${id} aria-valuetext=${numbers[0]}></progress>`
    }
    <p class="backfill-numbers" data-testid="backfill-numbers">${numbers.join(" · ")}</p>
  </div>`;
}
