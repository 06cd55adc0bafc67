// Scheduled flag changes (`baton flags ... --at`): pending ones with cancel, recent outcomes, and a
// form to schedule one. Times are entered in the browser's zone and sent as ISO 8601 with it.
import { useEffect, useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { when } from "../format.js";
import { html } from "../html.js";

const what = (c) =>
  c.action === "rollout" ? `rollout to ${c.percent}%` : c.action === "enable" ? "turn on" : "turn off";

export function FlagSchedulePanel({ flags, changeId }) {
  const [schedule, setSchedule] = useState(null);
  const [problem, setProblem] = useState(null);
  const load = () => api("GET", "/v1/flags/schedule").then(setSchedule, (e) => setProblem(e.message));
  useEffect(() => void load(), [changeId]);

  const cancel = async (c) => {
    try {
      await api("DELETE", `/v1/flags/schedule/${c.id}`, { actor: ACTOR });
      setProblem(null);
      await load();
    } catch (e) {
      setProblem(`Cancelling change #${c.id} was refused: ${e.message}`);
    }
  };
  const add = async ({ flag, action, percent, at, reason }) => {
    try {
      const body = {
        at: new Date(at).toISOString(),
        actor: ACTOR,
        ...(action === "rollout" ? { percent: Number(percent) } : {}),
        // `--reason` of `baton flags ... --at`: kept with the change when it is made.
        ...(reason.trim() ? { reason: reason.trim() } : {}),
      };
      await api("POST", `/v1/flags/${encodeURIComponent(flag)}/${action}`, body);
      setProblem(null);
      await load();
    } catch (e) {
      setProblem(`Scheduling was refused: ${e.message}`);
    }
  };

  return html`<section class="card" aria-labelledby="schedule-title">
    <h2 id="schedule-title">Scheduled changes</h2>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    ${schedule?.pending.length === 0 && html`<p>No change is scheduled.</p>`}
    ${
      schedule?.pending.length > 0 &&
      html`<table class="numbers" data-testid="schedule">
      <thead><tr><th scope="col">When</th><th scope="col">Flag</th><th scope="col">Change</th><th scope="col">By</th><th scope="col">Actions</th></tr></thead>
      <tbody>
        ${schedule.pending.map(
          (c) => html`<tr data-change=${c.id}>
            <td>${when(c.at)}</td><th scope="row">${c.flag}</th><td>${what(c)}</td><td>${c.createdBy}</td>
            <td><button onClick=${() => cancel(c)} aria-label=${`Cancel change ${c.id}: ${c.flag} ${what(c)}`}>Cancel</button></td>
          </tr>`,
        )}
      </tbody>
    </table>`
    }
    ${flags.length > 0 && html`<${ScheduleForm} flags=${flags} onAdd=${add} />`}
  </section>`;
}

function ScheduleForm({ flags, onAdd }) {
  const [flag, setFlag] = useState(flags[0]);
  const [action, setAction] = useState("enable");
  const [percent, setPercent] = useState("50");
  const [at, setAt] = useState("");
  const [reason, setReason] = useState("");
  const submit = (e) => {
    e.preventDefault();
    onAdd({ flag: flags.includes(flag) ? flag : flags[0], action, percent, at, reason });
  };
  return html`<form class="deploy" onSubmit=${submit}>
    <label for="sched-flag">Flag</label>
    <select id="sched-flag" value=${flag} onChange=${(e) => setFlag(e.currentTarget.value)}>
      ${flags.map((f) => html`<option value=${f}>${f}</option>`)}
    </select>
    <label for="sched-action">Change</label>
    <select id="sched-action" value=${action} onChange=${(e) => setAction(e.currentTarget.value)}>
      <option value="enable">turn on</option>
      <option value="disable">turn off</option>
      <option value="rollout">set the rollout</option>
    </select>
    ${
      action === "rollout" &&
      html`<label for="sched-percent">Rollout (%)</label>
      <input id="sched-percent" type="number" min="0" max="100" value=${percent} onInput=${(e) => setPercent(e.currentTarget.value)} />`
    }
    <label for="sched-at">At (your time zone)</label>
    <input id="sched-at" type="datetime-local" required value=${at} onInput=${(e) => setAt(e.currentTarget.value)} />
    <label for="sched-reason">Why (optional; kept in the flag's history)</label>
    <input id="sched-reason" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} autocomplete="off" />
    <button type="submit">Schedule</button>
  </form>`;
}
