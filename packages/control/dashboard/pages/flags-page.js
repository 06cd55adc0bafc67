// Feature flags: state and rollout, toggle on/off, a flag's history, its strategies and variants
// (editor), segments, and applying a flag file (Unleash's list, simplified).
import { useEffect, useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { when } from "../format.js";
import { html } from "../html.js";
import { ClientTokensPanel } from "./client-tokens-panel.js";
import { FlagCreateForm } from "./flag-create-form.js";
import { FlagSchedulePanel } from "./flag-schedule-panel.js";
import { FlagsApplyPanel } from "./flags-apply-panel.js";
import { GuardedRolloutPanel } from "./guarded-rollout-panel.js";
import { SegmentList } from "./segment-list.js";
import { StrategyEditor } from "./strategy-editor.js";

/** The percentage of the first flexibleRollout strategy, or null when the flag has none. */
function rolloutOf(flag) {
  const s = (flag.strategies ?? []).find((x) => x.name === "flexibleRollout");
  return s ? Number(s.parameters?.rollout ?? 100) : null;
}

export function FlagsPage({ live }) {
  const changeId = live.tick?.flags?.changeId ?? null;
  const [flags, setFlags] = useState(null);
  const [problem, setProblem] = useState(null);
  const [history, setHistory] = useState(null);
  const [busy, setBusy] = useState(null);
  const [guarded, setGuarded] = useState(null);
  const [editing, setEditing] = useState(null);
  const [segments, setSegments] = useState([]);
  const [reason, setReason] = useState("");
  // `--reason` of the CLI: sent with every change made from the table, kept in the flag's history.
  const why = () => (reason.trim() ? { reason: reason.trim() } : {});

  const load = () =>
    api("GET", "/v1/flags").then(
      (list) => setFlags(Array.isArray(list) ? list : (list.flags ?? [])),
      (e) =>
        setProblem(e.code === "BATON_NOT_FOUND" ? "This control plane serves no feature flags." : e.message),
    );
  const loadSegments = () => api("GET", "/v1/flags/segments").then(setSegments, () => setSegments([]));
  useEffect(() => {
    void load();
    void loadSegments();
  }, [changeId]);

  const toggle = async (record) => {
    const on = !record.flag.enabled;
    setBusy(record.name);
    try {
      await api("POST", `/v1/flags/${encodeURIComponent(record.name)}/${on ? "enable" : "disable"}`, {
        actor: ACTOR,
        ...why(),
      });
      setProblem(null);
      await load();
    } catch (e) {
      setProblem(`Turning ${record.name} ${on ? "on" : "off"} was refused: ${e.message}`);
    } finally {
      setBusy(null);
    }
  };
  const setRollout = async (name, percent) => {
    setBusy(name);
    try {
      await api("POST", `/v1/flags/${encodeURIComponent(name)}/rollout`, { percent, actor: ACTOR, ...why() });
      setProblem(null);
      await load();
    } catch (e) {
      setProblem(`Setting the rollout of ${name} to ${percent}% was refused: ${e.message}`);
    } finally {
      setBusy(null);
    }
  };
  const remove = async (name) => {
    if (!window.confirm(`Delete the flag ${name}? SDKs then see it as unknown (off).`)) return;
    try {
      await api("DELETE", `/v1/flags/${encodeURIComponent(name)}`, { actor: ACTOR, ...why() });
      setProblem(null);
      await load();
    } catch (e) {
      setProblem(`Deleting ${name} was refused: ${e.message}`);
    }
  };
  const showHistory = async (name) => {
    try {
      setHistory({
        name,
        changes: await api("GET", `/v1/flags/${encodeURIComponent(name)}/history?limit=20`),
      });
    } catch (e) {
      setProblem(e.message);
    }
  };

  return html`
    <h1>Feature flags</h1>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    <section class="card" aria-labelledby="flags-title">
      <h2 id="flags-title">Flags</h2>
      ${
        flags === null
          ? html`<p>Loading…</p>`
          : flags.length === 0
            ? html`<p>No flags yet: create one under New flag, or apply a file below (<code>baton flags apply</code>).</p>`
            : html`<table class="numbers" data-testid="flags">
              <thead><tr><th scope="col">Flag</th><th scope="col">State</th><th scope="col">Rollout</th><th scope="col">Strategies</th><th scope="col">Changed</th><th scope="col">Actions</th></tr></thead>
              <tbody>
                ${flags.map((r) => {
                  const rollout = rolloutOf(r.flag);
                  return html`<tr data-flag=${r.name}>
                    <th scope="row">${r.name}</th>
                    <td><span class="badge" data-enabled=${String(r.flag.enabled)}>${r.flag.enabled ? "on" : "off"}</span></td>
                    <td>${rollout === null ? "everyone (no rollout)" : html`<${RolloutForm} name=${r.name} rollout=${rollout} onSet=${setRollout} />`}</td>
                    <td>${(r.flag.strategies ?? []).map((s) => s.name).join(", ") || "default"}</td>
                    <td>${when(r.updatedAt)} by ${r.updatedBy}</td>
                    <td class="actions">
                      <button onClick=${() => toggle(r)} disabled=${busy === r.name}>
                        Turn ${r.flag.enabled ? "off" : "on"}<span class="visually-hidden"> ${r.name}</span>
                      </button>
                      <button onClick=${() => setEditing(r.name)} aria-label=${`Edit strategies of ${r.name}`}>Edit strategies</button>
                      <button onClick=${() => showHistory(r.name)} aria-label=${`History of ${r.name}`}>History</button>
                      ${rollout !== null && html`<button onClick=${() => setGuarded(r.name)} aria-label=${`Guarded rollout of ${r.name}`}>Guarded rollout</button>`}
                      <button onClick=${() => remove(r.name)} aria-label=${`Delete ${r.name}`}>Delete</button>
                    </td>
                  </tr>`;
                })}
              </tbody>
            </table>`
      }
      <p class="reason-field">
        <label for="flags-reason">Why, for the changes made in this table (optional; kept in the flag's history)</label>
        <input id="flags-reason" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} autocomplete="off" />
      </p>
    </section>
    ${editing && html`<${StrategyEditor} name=${editing} segments=${segments} onSaved=${load} onClose=${() => setEditing(null)} />`}
    <${FlagCreateForm} onCreated=${load} onProblem=${setProblem} />
    ${guarded && html`<${GuardedRolloutPanel} name=${guarded} tick=${live.tick?.at} onChanged=${load} />`}
    ${history && html`<${FlagHistory} ...${history} />`}
    ${flags && html`<${FlagSchedulePanel} flags=${flags.map((r) => r.name)} changeId=${changeId} />`}
    <${SegmentList} segments=${segments} onChanged=${loadSegments} />
    <${FlagsApplyPanel} onApplied=${() => {
      void load();
      void loadSegments();
    }} />
    <${ClientTokensPanel} />`;
}

/** The rollout percentage, editable: Enter or "Set" sends it. */
function RolloutForm({ name, rollout, onSet }) {
  const [value, setValue] = useState(String(rollout));
  useEffect(() => setValue(String(rollout)), [rollout]);
  const id = `rollout-${name}`;
  const submit = (e) => {
    e.preventDefault();
    onSet(name, Number(value));
  };
  return html`<form class="rollout" onSubmit=${submit}>
    <label for=${id}>${rollout}%<span class="visually-hidden"> rollout of ${name}, new value</span></label>
    <input id=${id} type="number" min="0" max="100" step="1" required value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
    <button type="submit" disabled=${Number(value) === rollout}>Set<span class="visually-hidden"> rollout of ${name}</span></button>
  </form>`;
}

function FlagHistory({ name, changes }) {
  const state = (flag) =>
    flag
      ? `${flag.enabled ? "on" : "off"}${rolloutOf(flag) === null ? "" : `, ${rolloutOf(flag)}%`}`
      : "none";
  return html`<section class="card" aria-labelledby="history-title">
    <h2 id="history-title">History of ${name}</h2>
    <table class="numbers">
      <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Change</th><th scope="col">Before</th><th scope="col">After</th><th scope="col">Why</th></tr></thead>
      <tbody>
        ${changes.map(
          (c) => html`<tr>
            <td>${when(c.at)}</td><td>${c.actor}</td><td>${c.action}</td>
            <td>${state(c.before)}</td><td>${state(c.after)}</td><td>${c.reason ?? ""}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
