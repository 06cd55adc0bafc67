// A new flag (PUT /v1/flags/<name> with version 0: never replaces one): off, with a gradual rollout
// to a percentage.
import { useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { html } from "../html.js";

export function FlagCreateForm({ onCreated, onProblem }) {
  const [name, setName] = useState("");
  const [rollout, setRollout] = useState("0");
  const submit = async (e) => {
    e.preventDefault();
    const flag = name.trim();
    try {
      await api("PUT", `/v1/flags/${encodeURIComponent(flag)}`, {
        enabled: false,
        strategies: [
          {
            name: "flexibleRollout",
            parameters: { rollout: String(Number(rollout)), stickiness: "default", groupId: flag },
          },
        ],
        // 0: only if no flag has this name (never replaces one by mistake).
        version: 0,
        actor: ACTOR,
      });
      setName("");
      onProblem(null);
      onCreated();
    } catch (err) {
      onProblem(`Creating ${flag} was refused: ${err.message}`);
    }
  };
  return html`<section class="card" aria-labelledby="create-flag-title">
    <h2 id="create-flag-title">New flag</h2>
    <form class="deploy" onSubmit=${submit}>
      <label for="flag-name">Name</label>
      <input id="flag-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} required autocomplete="off" />
      <label for="flag-rollout">Rollout when turned on (%)</label>
      <input id="flag-rollout" type="number" min="0" max="100" value=${rollout} onInput=${(e) => setRollout(e.currentTarget.value)} />
      <button type="submit">Create flag (off)</button>
    </form>
  </section>`;
}
