// A flag's strategies (every type @baton/flags evaluates), their constraints and segments, and the
// flag's variants: edited as a draft, saved in one PUT based on the version read (If-Match), so a
// change made by someone else meanwhile is refused, not overwritten.
import { useEffect, useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { html } from "../html.js";
import { ConstraintEditor } from "./constraint-editor.js";
import { FieldProblem, invalidIf, isAbout, problemOf } from "./field-problem.js";
import { VariantEditor } from "./variant-editor.js";

const STICKINESS = ["default", "userId", "sessionId", "random"];

/** The strategies Unleash's SDKs and @baton/flags know, with their parameters. */
export const STRATEGY_TYPES = {
  default: { title: "Everyone", params: [] },
  flexibleRollout: {
    title: "Gradual rollout",
    params: [
      { key: "rollout", label: "Percentage (0-100)", type: "percent", initial: "50" },
      { key: "stickiness", label: "Stickiness", type: "choice", choices: STICKINESS, initial: "default" },
      { key: "groupId", label: "Group id (the flag's name when empty)", initial: "" },
    ],
  },
  userWithId: {
    title: "Listed users",
    params: [{ key: "userIds", label: "User ids (comma-separated)", initial: "" }],
  },
  gradualRolloutUserId: {
    title: "Percentage of users (legacy)",
    params: [
      { key: "percentage", label: "Percentage (0-100)", type: "percent", initial: "50" },
      { key: "groupId", label: "Group id", initial: "" },
    ],
  },
  gradualRolloutSessionId: {
    title: "Percentage of sessions (legacy)",
    params: [
      { key: "percentage", label: "Percentage (0-100)", type: "percent", initial: "50" },
      { key: "groupId", label: "Group id", initial: "" },
    ],
  },
  gradualRolloutRandom: {
    title: "Random percentage (legacy)",
    params: [{ key: "percentage", label: "Percentage (0-100)", type: "percent", initial: "50" }],
  },
  remoteAddress: {
    title: "IP addresses",
    params: [{ key: "IPs", label: "IPs or CIDR ranges (comma-separated)", initial: "" }],
  },
  applicationHostname: {
    title: "Host names",
    params: [{ key: "hostNames", label: "Host names (comma-separated)", initial: "" }],
  },
};

/** A strategy of another type, keeping what it shares with the old one (constraints, segments). */
function retype(s, name, flagName) {
  const params = Object.fromEntries(
    (STRATEGY_TYPES[name]?.params ?? []).map((p) => [
      p.key,
      String(s.parameters?.[p.key] ?? (p.key === "groupId" ? flagName : p.initial)),
    ]),
  );
  return { ...s, name, parameters: params };
}

export function StrategyEditor({ name, segments, onSaved, onClose }) {
  const [record, setRecord] = useState(null);
  const [draft, setDraft] = useState(null);
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState(null);
  const [conflict, setConflict] = useState(null);
  const [saved, setSaved] = useState(null);
  const [busy, setBusy] = useState(false);
  // Chosen, then added with a button: a select that acted on change would add one per arrow key.
  const [newType, setNewType] = useState("flexibleRollout");

  const load = async () => {
    try {
      const r = await api("GET", `/v1/flags/${encodeURIComponent(name)}`);
      setRecord(r);
      setDraft({
        strategies: structuredClone(r.flag.strategies ?? []),
        variants: structuredClone(r.flag.variants ?? []),
      });
      setProblem(null);
      setConflict(null);
    } catch (e) {
      setProblem(problemOf(e));
    }
  };
  useEffect(() => {
    setSaved(null);
    void load();
  }, [name]);

  if (!draft)
    return html`<section class="card"><h2>Strategies of ${name}</h2>${problem ? html`<p class="problem" role="alert">${problem.message}</p>` : html`<p>Loading…</p>`}</section>`;

  const strategies = draft.strategies;
  const setStrategies = (list) => setDraft({ ...draft, strategies: list });
  const setOne = (i, s) => setStrategies(strategies.map((x, j) => (j === i ? s : x)));
  const move = (i, by) => {
    const list = [...strategies];
    const [s] = list.splice(i, 1);
    list.splice(i + by, 0, s);
    setStrategies(list);
  };

  const save = async (e) => {
    e.preventDefault();
    setBusy(true);
    setSaved(null);
    const flag = { ...record.flag, strategies };
    // An empty list where there was none would be a change of nothing.
    if (draft.variants.length > 0 || record.flag.variants !== undefined) flag.variants = draft.variants;
    else delete flag.variants;
    try {
      const next = await api("PUT", `/v1/flags/${encodeURIComponent(name)}`, {
        ...flag,
        version: record.version,
        actor: ACTOR,
        ...(reason.trim() ? { reason: reason.trim() } : {}),
      });
      setRecord(next);
      setProblem(null);
      setConflict(null);
      setReason("");
      setSaved(`Saved: ${name} is at version ${next.version}.`);
      onSaved?.();
    } catch (err) {
      if (err.code === "BATON_FLAG_CONFLICT") setConflict(err.message);
      else setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  };

  return html`<section class="card editor" aria-labelledby="editor-title" data-testid="strategy-editor">
    <h2 id="editor-title">Strategies of ${name} <span class="hint">(version ${record.version}; the flag is on when any strategy matches)</span></h2>
    ${
      conflict &&
      html`<div class="problem-box" role="alert">
        <p><strong>Changed by someone else:</strong> ${name} changed since you opened it, so nothing was saved. Reload it to see their change, then redo yours.</p>
        <p class="hint">${conflict}</p>
        <button type="button" onClick=${load}>Reload ${name}</button>
      </div>`
    }
    ${problem && html`<p class="problem" role="alert" data-testid="editor-problem">${problem.message}</p>`}
    <form onSubmit=${save}>
      ${strategies.length === 0 && html`<p>No strategies: when on, the flag is on for everyone.</p>`}
      <ol class="strategies">
        ${strategies.map(
          (s, i) => html`<li>
            <${StrategyFields} s=${s} i=${i} count=${strategies.length} flagName=${name} segments=${segments}
              problem=${problem} onChange=${(x) => setOne(i, x)} onMove=${(by) => move(i, by)}
              onRemove=${() => setStrategies(strategies.filter((_, j) => j !== i))} />
          </li>`,
        )}
      </ol>
      <div class="actions">
        <label for="add-strategy">New strategy's type</label>
        <select id="add-strategy" value=${newType} onChange=${(e) => setNewType(e.currentTarget.value)}>
          ${Object.entries(STRATEGY_TYPES).map(([k, t]) => html`<option value=${k}>${t.title} (${k})</option>`)}
        </select>
        <button type="button" onClick=${() => setStrategies([...strategies, retype({ constraints: [] }, newType, name)])}>Add strategy</button>
      </div>
      <${VariantEditor} variants=${draft.variants} onChange=${(v) => setDraft({ ...draft, variants: v })} problem=${problem} />
      <label for="editor-reason">Why (kept in the flag's history; optional)</label>
      <input id="editor-reason" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} autocomplete="off" />
      <div class="actions">
        <button type="submit" disabled=${busy}>Save strategies of ${name}</button>
        <button type="button" onClick=${load}>Discard changes</button>
        <button type="button" onClick=${onClose}>Close editor</button>
      </div>
      ${saved && html`<p role="status" data-testid="editor-saved">${saved}</p>`}
    </form>
  </section>`;
}

function StrategyFields({ s, i, count, flagName, segments, problem, onChange, onMove, onRemove }) {
  const id = `s${i}`;
  const at = `strategies[${i}]`;
  const type = STRATEGY_TYPES[s.name];
  const params = type?.params ?? [];
  const setParam = (key, value) => onChange({ ...s, parameters: { ...s.parameters, [key]: value } });
  const known = new Set([...params.map((p) => `${at}.parameters.${p.key}`)]);
  const inParams = params.some((p) => isAbout(problem, `${at}.parameters.${p.key}`));
  const rest =
    isAbout(problem, at) &&
    !inParams &&
    !isAbout(problem, `${at}.constraints`) &&
    !isAbout(problem, `${at}.segments`);
  const used = new Set(s.segments ?? []);
  return html`<fieldset class="strategy" data-strategy=${i}>
    <legend>Strategy ${i + 1}: ${type?.title ?? s.name}</legend>
    <label for=${`${id}-type`}>Type<span class="visually-hidden"> of strategy ${i + 1}</span></label>
    <select id=${`${id}-type`} value=${s.name} onChange=${(e) => onChange(retype(s, e.currentTarget.value, flagName))}>
      ${Object.entries(STRATEGY_TYPES).map(([k, t]) => html`<option value=${k}>${t.title} (${k})</option>`)}
      ${!type && html`<option value=${s.name}>${s.name} (custom: SDKs without it answer off)</option>`}
    </select>
    ${params.map((p) => {
      const pid = `${id}-${p.key}`;
      const about = isAbout(problem, `${at}.parameters.${p.key}`);
      const value = String(s.parameters?.[p.key] ?? "");
      return html`<label for=${pid}>${p.label}<span class="visually-hidden"> of strategy ${i + 1}</span></label>
        ${
          p.type === "choice"
            ? html`<select id=${pid} value=${value} onChange=${(e) => setParam(p.key, e.currentTarget.value)}>
                ${[...new Set([...p.choices, value].filter(Boolean))].map((c) => html`<option value=${c}>${c}</option>`)}
              </select>`
            : html`<input id=${pid} value=${value} autocomplete="off" inputmode=${p.type === "percent" ? "decimal" : undefined}
                onInput=${(e) => setParam(p.key, e.currentTarget.value)} ...${invalidIf(about, pid)} />`
        }
        <${FieldProblem} id=${pid} problem=${problem} show=${about} />`;
    })}
    ${known.size === 0 && html`<p class="hint">No parameters.</p>`}
    <${ConstraintEditor} constraints=${s.constraints ?? []} onChange=${(c) => onChange({ ...s, constraints: c })}
      id=${id} path=${`${at}.constraints`} problem=${problem} label=${`Constraints of strategy ${i + 1} (all must hold)`} of=${`strategy ${i + 1}`} />
    <fieldset class="segments-used">
      <legend>Segments of strategy ${i + 1} (all must match)</legend>
      ${segments.length === 0 && html`<p class="hint">No segments yet (add them below, under Segments).</p>`}
      ${segments.map(
        (g) => html`<label class="check"><input type="checkbox" checked=${used.has(g.id)}
          onChange=${(e) => {
            const next = e.currentTarget.checked ? [...used, g.id] : [...used].filter((x) => x !== g.id);
            const copy = { ...s, segments: next };
            if (next.length === 0) delete copy.segments;
            onChange(copy);
          }} /> ${g.name ? `${g.name} (#${g.id})` : `segment #${g.id}`}</label>`,
      )}
      <${FieldProblem} id=${`${id}-seg`} problem=${problem} show=${isAbout(problem, `${at}.segments`)} />
    </fieldset>
    <${FieldProblem} id=${`${id}-all`} problem=${problem} show=${rest} />
    <div class="actions">
      <button type="button" onClick=${() => onMove(-1)} disabled=${i === 0}>Move up<span class="visually-hidden"> strategy ${i + 1}</span></button>
      <button type="button" onClick=${() => onMove(1)} disabled=${i === count - 1}>Move down<span class="visually-hidden"> strategy ${i + 1}</span></button>
      <button type="button" onClick=${onRemove}>Remove strategy ${i + 1}</button>
    </div>
  </fieldset>`;
}
