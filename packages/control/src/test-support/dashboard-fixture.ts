import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, silentLogger } from "@baton/router";
import { request } from "undici";
import { hashToken, startApi } from "../api-server.js";
import { ControlPlane } from "../control-plane.js";
import { Dashboard, type DashboardOptions } from "../dashboard/dashboard.js";
import { FlagService } from "../flags/flag-service.js";
import { GuardedRollouts } from "../flags/guarded-rollouts.js";
import { MigrationMonitor } from "../migration/migration-monitor.js";
import { AppMetrics } from "../release-metrics/app-metrics.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { testSchema } from "./test-database.js";

export const DASHBOARD_TOKEN = "dashboard-admin-token-0123456789";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

export interface Send {
  body?: unknown;
  /** Raw body text, sent as is (with `content-type` from `headers`). */
  raw?: string;
  headers?: Record<string, string>;
  cookie?: string;
  bearer?: string;
}

/**
 * The control plane's API with the dashboard, as `baton up` serves it: a real router (one service,
 * `shop`, whose stats the events carry), flags, a fresh schema of the test database.
 */
export async function startDashboardApi(
  prefix: string,
  opts: DashboardOptions = {},
  /** Every route `baton up` serves: also guarded rollouts, release metrics and `POST /v1/down`. */
  more: { everything?: boolean } = {},
) {
  const env = await testSchema(prefix);
  const dir = await mkdtemp(join(tmpdir(), "baton-dashboard-"));
  const router = await createRouter(
    {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0" },
      services: [
        { name: "shop", tracks: { stable: { version: "v1", weight: 10_000, instances: ["127.0.0.1:9"] } } },
      ],
    } as never,
    { logger: silentLogger },
  );
  const admin = new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`);
  const plane = new ControlPlane({
    file: parseServiceFile("service: shop\nlisten: 8080\nrun: node server.js\n"),
    db: env.db,
    router: admin,
    routerUrl: `http://127.0.0.1:${router.address.port}`,
    dataDir: dir,
  });
  await plane.init();
  const flags = new FlagService({ db: env.db, service: "shop" });
  await flags.init();
  const dashboard = new Dashboard({
    db: env.db,
    stats: (w) => admin.stats("shop", w),
    routerView: () => admin.service("shop"),
    ...opts,
  });
  /** How often `POST /v1/down` was obeyed (with `everything`; it stops nothing here). */
  const downs = { count: 0 };
  const rollouts = more.everything ? new GuardedRollouts({ db: env.db, flags, service: "shop" }) : undefined;
  await rollouts?.init();
  const api = await startApi(plane, {
    host: "127.0.0.1",
    port: 0,
    tokenSha256: hashToken(DASHBOARD_TOKEN),
    flags,
    dashboard,
    ...(rollouts
      ? {
          rollouts,
          releaseMetrics: new AppMetrics(),
          onDown: () => void downs.count++,
          // No migration configured: its routes answer, and refuse every action, as in `baton up`.
          migration: new MigrationMonitor({ plane, settings: () => undefined }),
        }
      : {}),
  });

  /** One request as a browser or a script would send it; nothing is added unasked. */
  const send = async (method: string, path: string, s: Send = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...s.headers };
    if (s.body !== undefined) headers["content-type"] ??= "application/json";
    if (s.cookie) headers.cookie = s.cookie;
    if (s.bearer) headers.authorization = `Bearer ${s.bearer}`;
    const res = await request(`${api.url}${path}`, {
      method: method as "GET",
      headers,
      ...(s.raw !== undefined
        ? { body: s.raw }
        : s.body !== undefined
          ? { body: JSON.stringify(s.body) }
          : {}),
    });
    const text = await res.body.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, body };
  };

  /** Signs in with the token: the cookie (`name=value`) and the session's CSRF token. */
  const login = async () => {
    const res = await send("POST", "/v1/session", {
      body: { token: DASHBOARD_TOKEN },
      headers: { origin: api.url },
    });
    if (res.status !== 201) throw new Error(`login answered ${res.status}: ${res.text}`);
    const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
    return { cookie, csrf: res.body.csrfToken as string, setCookie: String(res.headers["set-cookie"]) };
  };

  return {
    api,
    dashboard,
    flags,
    plane,
    rollouts,
    downs,
    send,
    login,
    async close() {
      await api.close();
      await router.close();
      await env.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
