// The Audit page's filters: kept in the URL's hash (#/audit?action=release.&actor=bob), so that a
// link shows the same events to whoever opens it, and edited with a labelled form.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";

/** The filters the page knows, in the form's order; `before` (a page's start) is set by links. */
export const FILTERS = ["action", "actor", "service", "version", "since", "until", "q"];
const KEYS = [...FILTERS, "before"];

/** The filters in the hash now: `{ action: "release.", ... }`, empty ones left out. */
export function filtersFromHash() {
  const at = location.hash.indexOf("?");
  const params = new URLSearchParams(at < 0 ? "" : location.hash.slice(at + 1));
  const out = {};
  for (const key of KEYS) {
    const value = params.get(key)?.trim();
    if (value) out[key] = value;
  }
  return out;
}

/** Shows these filters: a new entry in the browser's history, and a link to share. */
export function showFilters(filters) {
  const params = new URLSearchParams();
  for (const key of KEYS) if (filters[key]) params.set(key, filters[key]);
  const query = params.toString();
  location.hash = `#/audit${query ? `?${query}` : ""}`;
}

/** An ISO time as a datetime-local input shows it (the browser's time zone), and back. */
const toLocalInput = (iso) => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocalInput = (value) => (value ? new Date(value).toISOString() : "");

const FIELDS = [
  { key: "action", label: "Action", hint: "exact, or a prefix ending in a dot: release." },
  { key: "actor", label: "Actor", hint: "who acted: dashboard, api, baton up…" },
  { key: "service", label: "Service" },
  { key: "version", label: "Version" },
  { key: "since", label: "From (your time zone)", type: "datetime-local" },
  { key: "until", label: "Until (your time zone)", type: "datetime-local" },
  { key: "q", label: "Text in the event", hint: "its details too, any case" },
];

export function AuditFilterForm({ filters }) {
  const fromFilters = () =>
    Object.fromEntries(
      FIELDS.map((f) => [
        f.key,
        f.type === "datetime-local"
          ? filters[f.key]
            ? toLocalInput(filters[f.key])
            : ""
          : (filters[f.key] ?? ""),
      ]),
    );
  const [draft, setDraft] = useState(fromFilters);
  // A link followed, or Back: the form shows what the list shows.
  useEffect(() => setDraft(fromFilters()), [JSON.stringify(filters)]);
  const submit = (e) => {
    e.preventDefault();
    const next = {};
    for (const f of FIELDS) {
      const value = draft[f.key].trim();
      if (value) next[f.key] = f.type === "datetime-local" ? fromLocalInput(value) : value;
    }
    showFilters(next);
  };
  const active = FILTERS.some((k) => filters[k]) || filters.before;
  return html`<form class="audit-filters" onSubmit=${submit} aria-labelledby="audit-filter-title">
    <h2 id="audit-filter-title">Filter</h2>
    <div class="fields">
      ${FIELDS.map(
        (f) => html`<p>
          <label for=${`audit-${f.key}`}>${f.label}</label>
          <input id=${`audit-${f.key}`} name=${f.key} type=${f.type ?? "text"} value=${draft[f.key]}
            aria-describedby=${f.hint ? `audit-${f.key}-hint` : undefined}
            onInput=${(e) => setDraft({ ...draft, [f.key]: e.currentTarget.value })} />
          ${f.hint && html`<span class="hint" id=${`audit-${f.key}-hint`}>${f.hint}</span>`}
        </p>`,
      )}
    </div>
    <div class="actions">
      <button type="submit">Show matching events</button>
      ${active && html`<button type="button" onClick=${() => showFilters({})}>Clear filters</button>`}
    </div>
  </form>`;
}
