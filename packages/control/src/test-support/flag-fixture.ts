import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { hashToken, startApi } from "../api-server.js";
import { ControlPlane } from "../control-plane.js";
import { FlagService } from "../flags/flag-service.js";
import type { FlagStreamOptions } from "../flags/flag-stream.js";
import { GuardedRollouts } from "../flags/guarded-rollouts.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { testSchema } from "./test-database.js";

export const ADMIN_TOKEN = "admin-token-0123456789abcdef";

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/**
 * A control plane's API with feature flags, as `baton up` serves it, over a fresh schema of the
 * test database. No router is needed: flags never touch it.
 */
export async function startFlagApi(
  prefix: string,
  stream?: FlagStreamOptions,
  opts: { rollouts?: { lookMs: number } } = {},
) {
  const env = await testSchema(prefix);
  const dir = await mkdtemp(join(tmpdir(), "baton-flags-"));
  const plane = new ControlPlane({
    file: parseServiceFile("service: flagged\nlisten: 8080\nrun: node server.js\n"),
    db: env.db,
    router: new RouterAdmin("http://127.0.0.1:9"),
    routerUrl: "http://127.0.0.1:9",
    dataDir: dir,
  });
  await plane.init();
  const flags = new FlagService({ db: env.db, service: "flagged", ...(stream ? { stream } : {}) });
  await flags.init();
  const rollouts = opts.rollouts
    ? new GuardedRollouts({ db: env.db, flags, service: "flagged", lookMs: opts.rollouts.lookMs })
    : undefined;
  await rollouts?.init();
  rollouts?.start();
  const api = await startApi(plane, {
    host: "127.0.0.1",
    port: 0,
    tokenSha256: hashToken(ADMIN_TOKEN),
    flags,
    ...(rollouts ? { rollouts } : {}),
  });

  /** One request; `auth` is the whole Authorization header (default: the admin bearer token). */
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    auth: string | null = `Bearer ${ADMIN_TOKEN}`,
  ): Promise<Answer> => {
    const res = await request(`${api.url}${path}`, {
      method: method as "GET",
      headers: {
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(auth ? { authorization: auth } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };

  return {
    env,
    plane,
    flags,
    rollouts,
    api,
    call,
    async close() {
      await rollouts?.stop();
      await api.close();
      await env.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
