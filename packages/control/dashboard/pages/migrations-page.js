// Migrations: baton.yaml's migration, the one in progress (operations, live backfill progress),
// the version schemas, history, and complete / roll back (asked first; disabled with the reason
// the server would give).
import { useEffect, useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { inFlight, when } from "../format.js";
import { html } from "../html.js";
import { BackfillProgress } from "./backfill-progress.js";
import { MigrationStartForm } from "./migration-start-form.js";

/** While a backfill runs (or a release, which may start one), the page asks every second. */
const FAST_MS = 1000;
/** Otherwise now and then: a migration started by hand (`baton migrate start`) shows up. */
const SLOW_MS = 10_000;

const STATUS_WORDS = { active: "in progress", completed: "completed", rolled_back: "rolled back" };
const ROLE_WORDS = {
  old: "old version (before the migration)",
  new: "new version (the migration's)",
  current: "current (no migration in progress)",
};

export function MigrationsPage({ live }) {
  const status = live.tick?.status;
  const release = status?.release ?? status?.regions?.[0]?.release ?? null;
  const [view, setView] = useState(null);
  const [problem, setProblem] = useState(null);
  const [done, setDone] = useState(null);
  const [busy, setBusy] = useState(null);

  const load = () =>
    api("GET", "/v1/migration").then(
      (v) => {
        setView(v);
        setProblem(null);
      },
      (e) =>
        setProblem(
          e.code === "BATON_NOT_FOUND"
            ? "This control plane shows no migrations: release waves over regions (baton.yaml's regions) do not have them yet; run baton migrate status against the database instead."
            : e.message,
        ),
    );
  // Again whenever the latest release moves (a release starts, completes or rolls back its migration).
  useEffect(() => void load(), [release?.id, release?.status, release?.step]);
  const active = view?.active;
  const fast =
    inFlight(release) || active?.phase === "starting" || (active?.backfills ?? []).some((b) => b.running);
  useEffect(() => {
    const timer = setInterval(load, fast ? FAST_MS : SLOW_MS);
    return () => clearInterval(timer);
  }, [fast]);

  const act = async (what, path, question) => {
    if (!window.confirm(question)) return;
    setBusy(what);
    setDone(null);
    try {
      const r = await api("POST", path, { actor: ACTOR });
      setDone(
        `${what}: migration ${r.migration.name} ${STATUS_WORDS[r.migration.status] ?? r.migration.status}.${r.warnings.length ? ` ${r.warnings.join(" ")}` : ""}`,
      );
      setProblem(null);
    } catch (e) {
      setProblem(`${what} refused: ${e.message}`);
    } finally {
      setBusy(null);
      load();
    }
  };

  return html`
    <h1>Migrations</h1>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    ${done && html`<p role="status" data-testid="migration-done">${done}</p>`}
    ${!view && !problem && html`<p>Loading…</p>`}
    ${view && html`<${Configuration} view=${view} />`}
    ${
      view?.configured &&
      html`<section class="card" aria-labelledby="active-title" data-testid="migration-active">
        <h2 id="active-title">${active ? html`In progress: <code>${active.name}</code>` : "No migration in progress"}</h2>
        ${
          active
            ? html`<${Active} active=${active} />`
            : html`<p class="hint">A release whose directory has the migration file starts it before its new instances.</p>
              <${MigrationStartForm}
                defaultFile=${release?.dir && view.settings?.file ? `${release.dir.replace(/\/$/, "")}/${view.settings.file}` : null}
                onStarted=${(m) => {
                  setDone(m);
                  setProblem(null);
                  load();
                }}
                onProblem=${setProblem}
              />`
        }
        ${
          active && html`<${Actions} actions=${view.actions} busy=${busy} onAct=${act} name=${active.name} />`
        }
      </section>
      <${VersionSchemas} schemas=${view.versionSchemas} />
      <${History} history=${view.history} />`
    }`;
}

function Configuration({ view }) {
  if (!view.configured)
    return html`<section class="card" aria-labelledby="config-title" data-testid="migration-config">
      <h2 id="config-title">Not configured</h2>
      <p>${view.reason}</p>
    </section>`;
  const s = view.settings;
  return html`<section class="card" aria-labelledby="config-title" data-testid="migration-config">
    <h2 id="config-title">Configured <span class="hint">(baton.yaml's migration section)</span></h2>
    <dl class="figures settings">
      <div><dt>File</dt><dd><code>${s.file}</code> in each release's directory</dd></div>
      <div><dt>Schema</dt><dd><code>${s.schema}</code></dd></div>
      <div><dt>Database</dt><dd><code>${view.database.url}</code> (${view.database.from})</dd></div>
      ${
        s.backfill &&
        html`<div><dt>Backfill</dt><dd>${s.backfill.batchSize ? `${s.backfill.batchSize} rows a batch` : "default batches"}${s.backfill.delay ? `, ${s.backfill.delay} ms between batches` : ""}</dd></div>`
      }
    </dl>
  </section>`;
}

function Active({ active }) {
  return html`
    <p>
      <span class="badge" data-phase=${active.phase}>${active.phase}</span>
      ${`${active.phase === "starting" ? "Its operations are still being applied (a backfill may be running)." : "Both versions work: the old one through its schema, the new one through the migration's."} Started ${when(active.startedAt)} ${active.release ? `by release #${active.release.id} of ${active.release.version}` : "by hand (baton migrate start)"}.`}
    </p>
    <h3>Operations</h3>
    <ol class="operations" data-testid="operations">
      ${active.operations.map(
        (o) =>
          html`<li><code>${o.summary}</code> <span class="hint">${o.started ? "applied" : "pending"}</span></li>`,
      )}
    </ol>
    ${
      active.backfills.length > 0 &&
      html`<h3>Backfills</h3>
      ${active.backfills.map((b) => html`<${BackfillProgress} key=${`${b.operation}-${b.column}`} backfill=${b} />`)}`
    }`;
}

function Actions({ actions, busy, onAct, name }) {
  const button = (what, path, action, question) => html`<div class="migration-action">
    <button
      onClick=${() => onAct(what, path, question)}
      disabled=${!action.allowed || busy}
      aria-describedby=${action.allowed ? undefined : `why-${path.split("/").at(-1)}`}
    >${busy === what ? `${what}…` : what}</button>
    ${!action.allowed && html`<p class="hint" id=${`why-${path.split("/").at(-1)}`}>Not now: ${action.reason}</p>`}
  </div>`;
  return html`<h3>Actions</h3>
    <div class="actions">
      ${button("Complete", "/v1/migration/complete", actions.complete, `Complete migration ${name}? The old version's schema and what only it needed are removed; the old version can no longer run.`)}
      ${button("Roll back", "/v1/migration/rollback", actions.rollback, `Roll back migration ${name}? The schema returns to exactly what it was before; the new version can no longer run.`)}
    </div>`;
}

function VersionSchemas({ schemas }) {
  return html`<section class="card" aria-labelledby="schemas-title">
    <h2 id="schemas-title">Version schemas</h2>
    <table class="numbers" data-testid="version-schemas">
      <thead><tr><th scope="col">Version</th><th scope="col">Schema</th><th scope="col">search_path its applications use</th></tr></thead>
      <tbody>
        ${schemas.map(
          (s) => html`<tr>
            <th scope="row">${ROLE_WORDS[s.role] ?? s.role}</th>
            <td>${s.schema ? html`<code>${s.schema}</code>` : "the tables themselves"}</td>
            <td><code>${s.searchPath}</code></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function History({ history }) {
  return html`<section class="card" aria-labelledby="history-title">
    <h2 id="history-title">History <span class="hint">(newest first)</span></h2>
    ${
      history.length === 0
        ? html`<p>No migration has run on this schema yet.</p>`
        : html`<table class="numbers" data-testid="migration-history">
      <thead><tr><th scope="col">Migration</th><th scope="col">Outcome</th><th scope="col">Version schema</th><th scope="col">Started</th><th scope="col">Ended</th></tr></thead>
      <tbody>
        ${history.map(
          (m) => html`<tr>
            <th scope="row"><code>${m.name}</code></th>
            <td><span class="badge" data-migration=${m.status}>${STATUS_WORDS[m.status] ?? m.status}</span></td>
            <td><code>${m.versionSchema}</code></td>
            <td>${when(m.startedAt)}</td>
            <td>${when(m.endedAt)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`
    }
  </section>`;
}
