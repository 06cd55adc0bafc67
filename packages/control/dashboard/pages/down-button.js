// `baton down` from the dashboard: it asks first, naming what stops, then the page says in words
// that the control plane stopped (it no longer waits for it to come back, as a restart would).
import { useEffect, useState } from "preact/hooks";
import { ACTOR, api } from "../api.js";
import { inFlight } from "../format.js";
import { html } from "../html.js";

const listeners = new Set();

/** Called once the control plane accepted `POST /v1/down` (the shell stops its live feed). */
export function onDown(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** How long the page watches the control plane go (drains take their timeout; as `baton down`). */
const DOWN_MS = 120_000;

export function DownButton({ status }) {
  const [problem, setProblem] = useState(null);
  const services = status?.regions
    ? status.regions.map((r) => `${r.service} (${r.region})`)
    : [status?.service];
  // Every instance that stops: serving, kept warm, and the release in flight's new ones.
  const instances = (status?.regions ?? [status]).reduce(
    (n, s) =>
      n +
      (s?.serving?.instances.length ?? 0) +
      (s?.warm?.instances.length ?? 0) +
      (s?.release && inFlight(s.release) ? (s.release.instances?.length ?? 0) : 0),
    0,
  );
  // Release waves: the regions' routers are run where each region is, not by `baton up`.
  const waves = Boolean(status?.regions);
  const down = async () => {
    const what =
      `Stop ${services.filter(Boolean).join(", ") || "the service"}: its ${instances} instance${instances === 1 ? "" : "s"} drain and stop, ` +
      (waves
        ? "then the control plane (baton up) exits; the regions' routers keep running, with nothing to route to. "
        : "then the router and the control plane (baton up) exit. ") +
      "Traffic is no longer served and this dashboard stops. Continue?";
    if (!window.confirm(what)) return;
    try {
      await api("POST", "/v1/down", { actor: ACTOR });
      for (const l of listeners) l();
    } catch (e) {
      setProblem(`Stopping was refused: ${e.message}`);
    }
  };
  return html`<section class="card" aria-labelledby="down-title">
    <h2 id="down-title">Stop everything <span class="hint">(<code>baton down</code>)</span></h2>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    <p class="hint">Stops the service's instances (after they drain), ${waves ? "and the control plane (the regions' routers are not baton up's)" : "its router and the control plane"}. Start again with <code>baton up</code>.</p>
    <button type="button" class="danger" onClick=${down} data-testid="down">${waves ? "Stop the service and control plane…" : "Stop the service, router and control plane…"}</button>
  </section>`;
}

/** What the page shows after `baton down`: stopping, then stopped, in words. */
export function ControlPlaneStopped() {
  const [state, setState] = useState("stopping");
  useEffect(() => {
    let alive = true;
    const deadline = Date.now() + DOWN_MS;
    const look = async () => {
      while (alive && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        // Any answer means it is still there (draining); no answer at all means it has gone.
        const up = await fetch("/v1/status", { credentials: "same-origin" }).then(
          () => true,
          () => false,
        );
        if (!up) return alive && setState("stopped");
      }
      if (alive) setState("still-up");
    };
    void look();
    return () => {
      alive = false;
    };
  }, []);
  const words = {
    stopping: "Stopping: the instances drain, then the router and the control plane exit…",
    stopped:
      "The control plane has stopped (baton down): the service's instances, its router and baton up have exited. Nothing is served. Start it again with `baton up`, which prints a new login link.",
    "still-up":
      "The control plane still answers two minutes after baton down was asked; look at the terminal where baton up runs.",
  };
  return html`<section class="card stopped" aria-labelledby="stopped-title">
    <h1 id="stopped-title">${state === "stopped" ? "Stopped" : state === "stopping" ? "Stopping" : "Still running"}</h1>
    <p role="status" data-testid="stopped">${words[state]}</p>
  </section>`;
}
