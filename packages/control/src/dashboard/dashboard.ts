import { createHash } from "node:crypto";
import type { ServiceView, StatsView } from "@baton/router";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { bearerCheck } from "../api/bearer-token.js";
import { redactEnvs } from "../api/redact-env.js";
import { badRequest } from "../api-input.js";
import type { ApiOptions, ReleaseControl } from "../api-server.js";
import { BatonControlError } from "../errors.js";
import type { SqlClient } from "../state/sql-client.js";
import { type Asset, DashboardAssets } from "./dashboard-assets.js";
import { DashboardEvents } from "./dashboard-events.js";
import { type DashboardSessionOptions, DashboardSessions } from "./dashboard-sessions.js";
import { LoginAttempts, MAX_FAILED_LOGINS } from "./login-attempts.js";
import { admitBySession, assertSameOrigin, cookieValue, SESSION_COOKIE, sessionOf } from "./session-guard.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** How long the live events wait for one region's router each second. */
const REGION_READ_MS = 1500;

export interface DashboardOptions {
  /** The router's stats of the service (`RouterAdmin.stats`); without it, events carry no stats. */
  stats?: (windowSeconds: number) => Promise<StatsView>;
  /**
   * Release waves: each region's router stats of the service (`<service>.<region>`), so that the
   * live events carry measured numbers per region; a region whose router does not answer says so.
   */
  regionStats?: { region: string; stats: (windowSeconds: number) => Promise<StatsView> }[];
  /** The router's view of the service's instances (`RouterAdmin.service`): state, health, in flight. */
  routerView?: () => Promise<ServiceView>;
  /** The window of the stats in each event, in seconds (default 5). */
  statsWindowSeconds?: number;
  /**
   * The control plane's database: sessions are kept there and outlive a restart of the control
   * plane. Without it, in memory (a restart then asks every browser to sign in again).
   */
  db?: SqlClient;
  sessions?: DashboardSessionOptions;
  /** Live event streams at once at most (default 8). */
  maxStreams?: number;
  /** How often an event is sent (default 1 s). */
  intervalMs?: number;
  /** How often a heartbeat comment is sent on each stream (default 15 s). */
  heartbeatMs?: number;
}

/** The dashboard's routes with a fixed path (for the API's 405 answers, which list what a path allows). */
export const DASHBOARD_ROUTES = [
  { method: "GET", path: "/" },
  { method: "POST", path: "/v1/session" },
  { method: "GET", path: "/v1/session" },
  { method: "DELETE", path: "/v1/session" },
  { method: "POST", path: "/v1/session/link" },
  { method: "GET", path: "/v1/events" },
] as const;

const LOGIN_BODY_BYTES = 4096;
const SECRET_MAX = 512;

/**
 * The web dashboard, served by the control plane's API under `/`: the page and its assets (public),
 * sessions exchanged for the admin token or a one-time login code, and live events. Every JSON
 * endpoint stays behind the API's auth hook, which admits the session cookie (see `admits`).
 */
export class Dashboard {
  readonly sessions: DashboardSessions;
  readonly assets = new DashboardAssets();
  private events: DashboardEvents | undefined;
  private readonly logins = new LoginAttempts();

  constructor(private readonly opts: DashboardOptions = {}) {
    this.sessions = new DashboardSessions({
      ...opts.sessions,
      ...(opts.db && !opts.sessions?.db ? { db: opts.db } : {}),
    });
  }

  /** A one-time link that signs a browser in (printed by `baton up` and the demo). */
  loginLink(apiUrl: string): string {
    return `${apiUrl}/#login=${this.sessions.issueCode()}`;
  }

  /**
   * For the API's auth hook: whether the request's session cookie admits it (CSRF checked); 503
   * when the session cannot be looked up.
   */
  admits(request: FastifyRequest): Promise<boolean> {
    return admitBySession(request, this.sessions);
  }

  /** Adds the dashboard's routes to the API. */
  register(app: FastifyInstance, plane: ReleaseControl, api: ApiOptions): void {
    if (!api.tokenSha256)
      throw new BatonControlError(
        "BATON_API_UNPROTECTED",
        "the dashboard needs the API to have a token (its sessions are exchanged for it)",
      );
    const tokenMatches = bearerCheck(api.tokenSha256);
    const windowSeconds = this.opts.statsWindowSeconds ?? 5;
    const events = new DashboardEvents({
      snapshot: () => this.snapshot(plane, api, windowSeconds),
      ...(this.opts.maxStreams !== undefined ? { maxStreams: this.opts.maxStreams } : {}),
      ...(this.opts.intervalMs !== undefined ? { intervalMs: this.opts.intervalMs } : {}),
      ...(this.opts.heartbeatMs !== undefined ? { heartbeatMs: this.opts.heartbeatMs } : {}),
      ...(api.log ? { log: api.log } : {}),
    });
    this.events = events;
    app.addHook("preClose", async () => events.close());
    const assets = this.assets;
    const pub = { public: true };

    app.get("/", { config: pub }, (request, reply) => {
      reply.headers({
        "content-security-policy": assets.csp,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "cache-control": "no-cache",
      });
      return sendAsset(request, reply, assets.page);
    });
    app.get("/assets/:build/*", { config: pub }, (request, reply) => {
      const { build, "*": path } = request.params as { build: string; "*": string };
      const found = build === assets.build ? assets.get(path) : undefined;
      if (!found)
        throw new BatonControlError(
          "BATON_NOT_FOUND",
          build === assets.build
            ? `no dashboard asset ${path}`
            : `no dashboard asset ${path} in build ${build} (this control plane serves ${assets.build}: reload the page)`,
        );
      reply.headers({
        "cache-control": "public, max-age=31536000, immutable",
        "x-content-type-options": "nosniff",
      });
      return sendAsset(request, reply, found);
    });

    app.post("/v1/session", { config: pub, bodyLimit: LOGIN_BODY_BYTES }, async (request, reply) => {
      // A login from another site's page would sign the victim into the attacker's session.
      assertSameOrigin(request, false);
      const body = request.body;
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw badRequest("body", "the body must be a JSON object with `token` or `code`");
      const { token, code } = body as { token?: unknown; code?: unknown };
      const given = token ?? code;
      const field = token !== undefined ? "token" : "code";
      if ((token === undefined) === (code === undefined))
        throw badRequest(
          "body",
          "send exactly one of `token` (the API token) or `code` (a one-time login code)",
        );
      if (typeof given !== "string" || given === "" || given.length > SECRET_MAX)
        throw badRequest(field, `${field} must be a non-empty string of at most ${SECRET_MAX} characters`);
      const address = request.ip;
      const wait = this.logins.waitFor(address);
      if (wait > 0) {
        reply.header("retry-after", String(wait));
        throw new BatonControlError(
          "BATON_TOO_MANY_LOGINS",
          `${MAX_FAILED_LOGINS} failed sign-ins from ${address} within a minute: try again in ${wait} s`,
        );
      }
      const ok = field === "token" ? tokenMatches(`Bearer ${given}`) : this.sessions.redeemCode(given);
      if (!ok) this.logins.failed(address);
      if (!ok)
        throw new BatonControlError(
          "BATON_UNAUTHORIZED",
          field === "token"
            ? "wrong API token (it is in .baton/api.token next to baton.yaml)"
            : "this login code is unknown, expired or already used; `baton up` prints a new link when it starts",
        );
      const { id, session } = await this.sessions.create();
      const maxAge = Math.max(1, Math.floor((session.expiresAt - Date.now()) / 1000));
      reply.header(
        "set-cookie",
        `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${request.protocol === "https" ? "; Secure" : ""}`,
      );
      reply.header("cache-control", "no-store");
      return reply.code(201).send(sessionAnswer(session));
    });
    app.get("/v1/session", async (request, reply) => {
      reply.header("cache-control", "no-store");
      const found = await sessionOf(request, this.sessions);
      return found ? sessionAnswer(found.session) : { auth: "bearer" };
    });
    app.delete("/v1/session", async (request, reply) => {
      const found = await sessionOf(request, this.sessions);
      if (found) {
        await this.sessions.delete(found.id);
        // Its other tabs' open streams end now, not at their next heartbeat.
        void events.revalidate();
      }
      reply.header("set-cookie", `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
      return { loggedOut: found !== undefined };
    });
    app.post("/v1/session/link", (request) => ({
      url: this.loginLink(`${request.protocol}://${request.headers.host ?? ""}`),
    }));
    app.get("/v1/events", (request, reply) => {
      // A bearer's stream stays; a cookie's lasts as long as its session (logout ends it).
      const id =
        request.headers.authorization === undefined ? cookieValue(request, SESSION_COOKIE) : undefined;
      events.attach(
        reply,
        id
          ? {
              owner: `session ${sha256(id)}`,
              stillAdmitted: async () => (await this.sessions.get(id)) !== undefined,
            }
          : { owner: "bearer" },
      );
    });
  }

  /** Open event streams (for tests and status). */
  get openStreams(): number {
    return this.events?.open ?? 0;
  }

  private async snapshot(plane: ReleaseControl, api: ApiOptions, windowSeconds: number) {
    const [status, stats, router, regions] = await Promise.all([
      plane.status(),
      this.readStats(windowSeconds),
      this.readRouterView(),
      this.readRegionStats(windowSeconds),
    ]);
    return {
      at: new Date().toISOString(),
      // Releases' environments as the API shows them: every open browser gets each tick.
      status: redactEnvs(status),
      stats,
      router,
      ...(regions ? { regions } : {}),
      flags: api.flags ? { changeId: api.flags.snapshot.changeId } : null,
    };
  }

  /** Each instance as the router sees it (no config: the table's settings are not news every second). */
  private async readRouterView() {
    if (!this.opts.routerView) return null;
    try {
      const view = await this.opts.routerView();
      return {
        instances: [
          ...view.tracks.flatMap((t) => t.instances.map((i) => ({ ...i, weight: t.weight }))),
          ...view.draining.map((i) => ({ ...i, weight: 0 })),
        ],
        pausedRequests: view.pausedRequests,
      };
    } catch (err) {
      return { instances: [], error: (err as Error).message };
    }
  }

  /** Each region's per-version numbers, read from the regions' routers side by side. */
  private async readRegionStats(windowSeconds: number) {
    if (!this.opts.regionStats) return null;
    // Each region within its own short deadline: one hung router (a stopped process, a partition)
    // must not hold every browser's second of numbers, the other regions' included.
    const within = (region: string, read: Promise<StatsView>) =>
      new Promise<StatsView>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${region}'s router did not answer within ${REGION_READ_MS} ms`)),
          REGION_READ_MS,
        );
        read.then(resolve, reject).finally(() => clearTimeout(timer));
      });
    return Promise.all(
      this.opts.regionStats.map(async (r) => ({
        region: r.region,
        ...(await this.readStats(windowSeconds, () => within(r.region, r.stats(windowSeconds)))),
      })),
    );
  }

  /** The router's per-version numbers, small enough to send every second (no histograms). */
  private async readStats(
    windowSeconds: number,
    read = this.opts.stats && (() => this.opts.stats!(windowSeconds)),
  ) {
    if (!read) return null;
    try {
      const view = await read();
      // The router's window ends with the second under way: its full seconds and that part of it.
      const elapsed = windowSeconds - 1 + Math.max(0.1, (Date.parse(view.at) % 1000) / 1000);
      return {
        windowSeconds,
        tracks: view.tracks.map((t) => ({
          track: t.track,
          version: t.version,
          current: t.current,
          weight: t.weight,
          requestsPerSecond: t.requests / elapsed,
          errorRate: t.errorRate,
          p50: t.latencyMs.p50,
          p95: t.latencyMs.p95,
          p99: t.latencyMs.p99,
        })),
      };
    } catch (err) {
      return { windowSeconds, tracks: [], error: (err as Error).message };
    }
  }
}

function sessionAnswer(session: { csrfToken: string; expiresAt: number }) {
  return {
    auth: "session",
    csrfToken: session.csrfToken,
    expiresAt: new Date(session.expiresAt).toISOString(),
  };
}

/** The asset, compressed as the client accepts, or 304 when it has it already. */
function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
  reply.header("etag", asset.etag).header("vary", "accept-encoding").type(asset.type);
  if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  const accepts = String(request.headers["accept-encoding"] ?? "");
  if (/\bbr\b/.test(accepts)) return reply.header("content-encoding", "br").send(asset.br);
  if (/\bgzip\b/.test(accepts)) return reply.header("content-encoding", "gzip").send(asset.gzip);
  return reply.send(asset.raw);
}
