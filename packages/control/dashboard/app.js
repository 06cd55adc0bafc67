// The dashboard's shell: the session, the live feed, navigation by hash, and the connection state.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, onUnauthorized, setCsrfToken } from "./api.js";
import { html } from "./html.js";
import { LiveFeed } from "./live-feed.js";
import { AuditPage } from "./pages/audit-page.js";
import { ControlPlaneStopped, onDown } from "./pages/down-button.js";
import { FlagsPage } from "./pages/flags-page.js";
import { InstancesPage } from "./pages/instances-page.js";
import { LoginPage } from "./pages/login-page.js";
import { MigrationsPage } from "./pages/migrations-page.js";
import { OverviewPage } from "./pages/overview-page.js";
import { ReleasePage } from "./pages/release-page.js";

const PAGES = [
  { path: "overview", title: "Overview", Page: OverviewPage },
  { path: "release", title: "Releases", Page: ReleasePage },
  { path: "instances", title: "Instances", Page: InstancesPage },
  { path: "flags", title: "Flags", Page: FlagsPage },
  { path: "migrations", title: "Migrations", Page: MigrationsPage },
  { path: "audit", title: "Audit", Page: AuditPage },
];

// A page's own state may follow its path in the hash (#/audit?action=release.).
const pageOf = () => PAGES.find((p) => location.hash.split("?")[0] === `#/${p.path}`) ?? PAGES[0];

/** A one-time code in the URL (`#login=CODE`, printed by `baton up`), taken out of it at once. */
function takeLoginCode() {
  const m = /^#login=([\w-]+)$/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, "", `${location.pathname}#/overview`);
  return m[1];
}

function App() {
  const [session, setSession] = useState(undefined);
  const [notice, setNotice] = useState(null);
  const [page, setPage] = useState(pageOf);

  const signedIn = (s) => {
    setCsrfToken(s.csrfToken ?? null);
    setSession(s);
  };
  const signedOut = (why) => {
    setCsrfToken(null);
    setNotice(why);
    setSession(null);
  };

  useEffect(() => {
    const redeem = (code) =>
      api("POST", "/v1/session", { code }).then(signedIn, (e) =>
        signedOut(`The login link did not work: ${e.message}`),
      );
    const code = takeLoginCode();
    if (code) redeem(code);
    else api("GET", "/v1/session").then(signedIn, (e) => signedOut(e.status === 401 ? null : e.message));
    const off = onUnauthorized(() =>
      signedOut(
        "Your session ended (it expired after 12 hours, or you signed out elsewhere). Sign in again.",
      ),
    );
    // A new login link opened in this tab changes only the hash: no page load.
    const onHash = () => {
      const next = takeLoginCode();
      if (next) redeem(next);
      setPage(pageOf());
    };
    addEventListener("hashchange", onHash);
    return () => {
      off();
      removeEventListener("hashchange", onHash);
    };
  }, []);

  useEffect(() => {
    document.title = `${page.title} · Baton`;
  }, [page]);

  if (session === undefined) return html`<p class="loading">Loading…</p>`;
  if (session === null) return html`<${LoginPage} onSession=${signedIn} notice=${notice} />`;
  return html`<${Shell} page=${page} onSignOut=${signedOut} />`;
}

function Shell({ page, onSignOut }) {
  const [live, setLive] = useState({ connection: "connecting", tick: null });
  const [feed, setFeed] = useState(null);
  // After `baton down` from this page: the feed stops, the page says so (never "reconnecting…").
  const [stopped, setStopped] = useState(false);
  useEffect(() => onDown(() => setStopped(true)), []);
  useEffect(() => void (stopped && feed?.close()), [stopped, feed]);
  useEffect(() => {
    const f = new LiveFeed({
      onUnauthorized: () =>
        onSignOut(
          "Your session ended (it expired, or you signed out elsewhere): sign in again; `baton up` prints a new login link when it starts.",
        ),
      // Sessions outlive a restart of the control plane: the page goes on with the same one.
      onSession: (s) => setCsrfToken(s.csrfToken ?? null),
    });
    setFeed(f);
    const off = f.subscribe(setLive);
    return () => {
      off();
      f.close();
    };
  }, []);
  const logout = async () => {
    // A 401: the session had ended already. Anything else (the control plane or its database down)
    // left the session valid: said, rather than "Signed out".
    const failed = await api("DELETE", "/v1/session").then(
      () => null,
      (e) => (e.status === 401 ? null : e),
    );
    onSignOut(
      failed
        ? `Sign-out did not reach the control plane (${failed.message}); the session may still be valid: reload the page and sign out again once it answers.`
        : "Signed out.",
    );
  };
  const { Page } = page;
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <span class="brand">Baton</span>
      <nav aria-label="Dashboard">
        <ul>
          ${PAGES.map(
            (p) =>
              html`<li><a href=${`#/${p.path}`} aria-current=${p === page ? "page" : undefined}>${p.title}</a></li>`,
          )}
        </ul>
      </nav>
      <${Connection} live=${stopped ? { connection: "stopped" } : live} />
      <button class="logout" onClick=${logout}>Sign out</button>
    </header>
    <main id="main" tabindex="-1">
      ${live.problem && html`<p class="problem" role="alert">Live updates: ${live.problem}</p>`}
      ${stopped ? html`<${ControlPlaneStopped} />` : feed && html`<${Page} live=${live} history=${feed.history} />`}
    </main>`;
}

function Connection({ live }) {
  const words = {
    connecting: "connecting…",
    live: "live",
    reconnecting:
      "reconnecting… (the control plane does not answer; this page keeps trying, and stays signed in)",
    stopped: "stopped (baton down)",
  };
  return html`<p class=${`connection ${live.connection}`} role="status" data-testid="connection">
    ${words[live.connection] ?? live.connection}
  </p>`;
}

render(html`<${App} />`, document.getElementById("app"));
