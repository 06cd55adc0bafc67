// Live updates: one EventSource on /v1/events, reconnected while the control plane restarts (the
// session is kept in its database, so the page goes on where it was), and the last two minutes of
// the router's per-version numbers for the charts.

const POINTS = 120;
const STALE_MS = 5000;

export class LiveFeed {
  constructor({ onUnauthorized, onSession }) {
    this.onUnauthorized = onUnauthorized;
    this.onSession = onSession;
    this.listeners = new Set();
    this.state = { connection: "connecting", tick: null, problem: null };
    this.history = { times: [], versions: new Map() };
    this.source = null;
    this.retry = null;
    this.lastTickAt = 0;
    this.watchdog = setInterval(() => this.checkStale(), 1000);
    this.connect();
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close() {
    clearInterval(this.watchdog);
    clearTimeout(this.retry);
    this.source?.close();
    this.listeners.clear();
  }

  set(patch) {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l(this.state);
  }

  connect() {
    this.source?.close();
    const source = new EventSource("/v1/events");
    this.source = source;
    source.addEventListener("tick", (e) => {
      const tick = JSON.parse(e.data);
      this.lastTickAt = Date.now();
      this.record(tick);
      this.set({ connection: "live", tick, problem: null });
    });
    // The stream is live, the control plane's status is not (its database, say): said as such.
    source.addEventListener("problem", (e) => {
      this.lastTickAt = Date.now();
      this.set({ connection: "live", problem: JSON.parse(e.data).message });
    });
    source.onerror = () => {
      if (source !== this.source) return;
      this.set({ connection: "reconnecting" });
      // CONNECTING: the browser retries by itself (the control plane is down or restarting).
      // CLOSED: the server refused (401: the session ended; 503: its database is down; 429): ask
      // why, then try again or log in.
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.reopen(), 2000);
      }
    };
  }

  async reopen() {
    try {
      const res = await fetch("/v1/session", {
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      if (res.status === 401) return this.onUnauthorized();
      const body = await res.json().catch(() => null);
      if (res.ok) {
        // The session survived (a restart keeps it): its CSRF token, fresh, for the next change.
        if (body?.csrfToken) this.onSession?.(body);
        // The stream itself may be refused (429: too many open), which an EventSource cannot tell:
        // asked once with fetch, so the page says why instead of "reconnecting" for ever.
        const refused = await this.refusal();
        if (refused) {
          this.set({ problem: refused });
          clearTimeout(this.retry);
          this.retry = setTimeout(() => this.reopen(), 5000);
          return;
        }
      } else {
        // 503: the control plane answers, its database (where sessions are) does not. Said, retried.
        this.set({ problem: body?.error?.message ?? `the control plane answered HTTP ${res.status}` });
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.reopen(), 2000);
        return;
      }
    } catch {
      // Still down: try again below.
    }
    this.connect();
  }

  /** Why `/v1/events` refuses this page, or null when it would stream. */
  async refusal() {
    const ac = new AbortController();
    try {
      const res = await fetch("/v1/events", { credentials: "same-origin", signal: ac.signal });
      if (res.ok) return null;
      const body = await res.json().catch(() => null);
      return body?.error?.message ?? `the live updates answered HTTP ${res.status}`;
    } catch {
      return null;
    } finally {
      ac.abort();
    }
  }

  checkStale() {
    if (this.state.connection === "live" && Date.now() - this.lastTickAt > STALE_MS) {
      this.set({ connection: "reconnecting" });
      this.connect();
    }
  }

  /** Appends one point per version; versions without traffic in this tick get a gap. */
  record(tick) {
    const tracks = tick.stats?.tracks ?? [];
    const h = this.history;
    h.times.push(Date.parse(tick.at) / 1000);
    const seen = new Set();
    for (const t of tracks) {
      let series = h.versions.get(t.version);
      if (!series) {
        series = { rps: [], errorRate: [], p95: [], p99: [] };
        for (const key of Object.keys(series)) series[key] = new Array(h.times.length - 1).fill(null);
        h.versions.set(t.version, series);
      }
      series.rps.push(t.requestsPerSecond);
      series.errorRate.push(t.errorRate * 100);
      series.p95.push(t.p95);
      series.p99.push(t.p99);
      seen.add(t.version);
    }
    for (const [version, series] of h.versions)
      if (!seen.has(version)) for (const key of Object.keys(series)) series[key].push(null);
    if (h.times.length > POINTS) {
      h.times.shift();
      for (const series of h.versions.values()) for (const key of Object.keys(series)) series[key].shift();
    }
    // A version with no point left in the window leaves the charts.
    for (const [version, series] of h.versions)
      if (series.rps.every((v) => v === null)) h.versions.delete(version);
  }
}
