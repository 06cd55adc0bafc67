// A flag's guarded rollout, as Unleash's release plans show it: the steps, where it is, each look's
// decision with its numbers, and start / promote / abort.
import { useEffect, useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { html } from "../html.js";

const ACTIVE = new Set(["running", "paused"]);
const WORDS = {
  running: "running",
  paused: "paused, waiting for promote or abort",
  succeeded: "succeeded",
  "rolled-back": "rolled back",
  aborted: "aborted",
};

/** `onChanged`: the flag itself changed (its percentage): its list is read again. */
export function GuardedRolloutPanel({ name, tick, onChanged }) {
  const [rollouts, setRollouts] = useState(null);
  const [problem, setProblem] = useState(null);
  const path = `/v1/flags/${encodeURIComponent(name)}/guarded-rollout`;
  const load = () => api("GET", path).then(setRollouts, (e) => setProblem(e.message));
  const latest = rollouts?.[0];
  const active = ACTIVE.has(latest?.state);
  // Followed every second while it runs; read once otherwise.
  useEffect(() => void load(), [name, active ? tick : null]);

  const act = async (what, url, body) => {
    try {
      await api("POST", url, { ...body, actor: ACTOR });
      setProblem(null);
      await Promise.all([load(), onChanged()]);
    } catch (e) {
      setProblem(`${what} refused: ${e.message}`);
    }
  };

  return html`<section class="card" aria-labelledby="guarded-title">
    <h2 id="guarded-title">Guarded rollout of ${name}</h2>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    ${
      latest
        ? html`<div data-testid="guarded-rollout">
          <p>
            <span class="badge" data-status=${latest.state}>${WORDS[latest.state] ?? latest.state}</span>
            at ${latest.percent}% (steps ${latest.steps.join("% → ")}%; last good ${latest.lastGood}%), started by ${latest.createdBy}
          </p>
          ${latest.reason && html`<p class="reason"><strong>Why:</strong> ${latest.reason}</p>`}
          ${
            latest.look &&
            html`<p class="waiting">
            This step's look: ${latest.look.decision}: ${latest.look.reason} (requests on ${latest.look.requests.on}, off ${latest.look.requests.off})
          </p>`
          }
          ${
            active &&
            html`<div class="actions">
            <button onClick=${() => act("Promote", `${path}/promote`, {})}>Promote step</button>
            <button onClick=${() => act("Abort", `${path}/abort`, {})}>Abort rollout</button>
          </div>`
          }
        </div>`
        : rollouts && html`<p>No guarded rollout of ${name} yet.</p>`
    }
    ${!active && html`<${StartForm} onStart=${(body) => act("Starting the rollout", path, body)} />`}
  </section>`;
}

function StartForm({ onStart }) {
  const [steps, setSteps] = useState("25, 50, 100");
  const [pause, setPause] = useState("30s");
  const [minRequests, setMinRequests] = useState("1000");
  const submit = (e) => {
    e.preventDefault();
    onStart({
      steps: steps
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(Number),
      ...(pause.trim() ? { pause: pause.trim() } : {}),
      ...(minRequests.trim() ? { minRequests: Number(minRequests) } : {}),
    });
  };
  return html`<form class="deploy" onSubmit=${submit}>
    <label for="gr-steps">Steps (percentages, in order)</label>
    <input id="gr-steps" value=${steps} onInput=${(e) => setSteps(e.currentTarget.value)} required />
    <label for="gr-pause">Each step holds at least</label>
    <input id="gr-pause" value=${pause} onInput=${(e) => setPause(e.currentTarget.value)} placeholder="30s" />
    <label for="gr-min">Requests with the flag on a step needs before it passes</label>
    <input id="gr-min" type="number" min="1" value=${minRequests} onInput=${(e) => setMinRequests(e.currentTarget.value)} />
    <button type="submit">Start guarded rollout</button>
  </form>`;
}
