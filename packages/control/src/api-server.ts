import { createHash, timingSafeEqual } from "node:crypto";
import { stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isAbsolute } from "node:path";
import type { ControlPlane } from "./control-plane.js";
import { BatonControlError } from "./errors.js";

export interface ApiOptions {
  host: string;
  port: number;
  /** SHA-256 (hex) of the API token; only the digest is ever kept. */
  tokenSha256?: string;
  /** `POST /v1/down`: stop everything (instances, router) and exit; only `baton up` offers it. */
  onDown?: () => void;
}

/** What the API drives: one control plane, or release waves over regions. */
export type ReleaseControl = Pick<
  ControlPlane,
  "deploy" | "wait" | "promote" | "abort" | "rollback" | "history" | "logs" | "store" | "audit"
> & { status(): Promise<unknown> };

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const STATUS: Record<string, number> = {
  BATON_RELEASE_IN_PROGRESS: 409,
  BATON_NO_RELEASE_RUNNING: 409,
  BATON_UNKNOWN_RELEASE: 404,
  BATON_UNKNOWN_VERSION: 404,
  BATON_NOTHING_TO_ROLL_BACK: 409,
  BATON_DATABASE_UNAVAILABLE: 503,
  BATON_BAD_REQUEST: 400,
};

/**
 * The control plane's HTTP API, used by the CLI, CI pipelines and the dashboard alike. Bound to
 * loopback by default; anywhere else it refuses to start without a token.
 */
export async function startApi(
  plane: ReleaseControl,
  opts: ApiOptions,
): Promise<{ server: Server; url: string }> {
  if (!LOOPBACK.has(opts.host) && !opts.tokenSha256) {
    throw new BatonControlError(
      "BATON_API_UNPROTECTED",
      `the API would listen on ${opts.host} without a token; set one, or bind to 127.0.0.1`,
    );
  }
  const expected = opts.tokenSha256 ? Buffer.from(opts.tokenSha256, "hex") : undefined;
  const authorized = (req: IncomingMessage) => {
    if (!expected) return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    return !!m && timingSafeEqual(Buffer.from(hashToken(m[1]!.trim()), "hex"), expected);
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://api");
    const m = req.method ?? "GET";
    const p = url.pathname;
    if (!authorized(req))
      return json(res, 401, {
        error: { code: "BATON_UNAUTHORIZED", message: "missing or wrong bearer token" },
      });
    // A web page can send a "simple" cross-origin POST (text/plain, no preflight); JSON only.
    if (m === "POST" && !/^application\/json\b/i.test(req.headers["content-type"] ?? ""))
      return json(res, 415, {
        error: { code: "BATON_BAD_REQUEST", message: "POST bodies must be sent as application/json" },
      });
    if (m === "POST" && p === "/v1/deploy") {
      const body = (await readJson(req)) as {
        version?: unknown;
        dir?: unknown;
        strategy?: unknown;
        env?: unknown;
        instances?: unknown;
        actor?: unknown;
      };
      if (
        body.version !== undefined &&
        (typeof body.version !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(body.version))
      )
        throw bad("version must be 1-64 letters, digits, '.', '_' or '-'");
      if (body.dir !== undefined && (typeof body.dir !== "string" || !isAbsolute(body.dir)))
        throw bad("dir must be the absolute path of the release's directory");
      if (body.version === undefined && body.dir === undefined) throw bad("give a version, a dir, or both");
      if (
        body.instances !== undefined &&
        (!Array.isArray(body.instances) ||
          body.instances.some((a) => typeof a !== "string" || !/^[^\s:/]+:\d{1,5}$/.test(a)))
      )
        throw bad("instances must be a list of host:port addresses");
      if (body.strategy !== undefined && !["rolling", "blue-green", "canary"].includes(String(body.strategy)))
        throw bad("strategy must be rolling, blue-green or canary");
      if (
        body.env !== undefined &&
        (typeof body.env !== "object" ||
          body.env === null ||
          Object.values(body.env).some((v) => typeof v !== "string"))
      )
        throw bad("env must be an object of strings");
      if (typeof body.dir === "string") {
        const info = await stat(body.dir).catch(() => undefined);
        if (!info?.isDirectory())
          throw bad(`dir ${body.dir} is not a directory on the control plane's machine`);
      }
      const release = await plane.deploy({
        ...(typeof body.version === "string" ? { version: body.version } : {}),
        ...(typeof body.dir === "string" ? { cwd: body.dir } : {}),
        ...(body.strategy ? { strategy: body.strategy as "canary" } : {}),
        env: (body.env as Record<string, string>) ?? {},
        ...(Array.isArray(body.instances) ? { instances: body.instances as string[] } : {}),
        actor: typeof body.actor === "string" ? body.actor : "api",
      });
      return json(res, 202, release);
    }
    if (m === "GET" && p === "/v1/status") return json(res, 200, await plane.status());
    if (m === "GET" && p === "/v1/releases")
      return json(res, 200, await plane.history(Number(url.searchParams.get("limit") ?? 20)));
    const one = /^\/v1\/releases\/(\d+)$/.exec(p);
    if (m === "GET" && one) {
      const id = Number(one[1]);
      const release = url.searchParams.get("wait") === "1" ? await plane.wait(id) : await plane.store.get(id);
      if (!release) throw new BatonControlError("BATON_UNKNOWN_RELEASE", `no release ${id}`);
      return json(res, 200, { release, decisions: await plane.store.decisions(id) });
    }
    if (m === "POST" && p === "/v1/promote") {
      plane.promote();
      return json(res, 202, { promoted: true });
    }
    if (m === "POST" && p === "/v1/abort") {
      plane.abort(String(((await readJson(req)) as { actor?: string }).actor ?? "api"));
      return json(res, 202, { aborting: true });
    }
    if (m === "POST" && p === "/v1/rollback") {
      const actor = String(((await readJson(req)) as { actor?: string }).actor ?? "api");
      return json(res, 202, await plane.rollback(actor));
    }
    if (m === "GET" && p === "/v1/logs") {
      const version = url.searchParams.get("version") ?? undefined;
      if (version !== undefined && !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(version))
        throw bad("version must be 1-64 letters, digits, '.', '_' or '-'");
      const lines = Math.min(10_000, Math.max(1, Number(url.searchParams.get("lines") ?? 50) || 50));
      return json(res, 200, await plane.logs(version, lines));
    }
    if (m === "POST" && p === "/v1/down" && opts.onDown) {
      json(res, 202, { stopping: true });
      opts.onDown();
      return;
    }
    if (m === "GET" && p === "/v1/audit/verify") return json(res, 200, await plane.audit.verify());
    return json(res, 404, { error: { code: "BATON_NOT_FOUND", message: `no route ${m} ${p}` } });
  };

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const code = (err as { code?: string }).code ?? "BATON_INTERNAL";
      json(res, STATUS[code] ?? 500, { error: { code, message: (err as Error).message } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return { server, url: `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}` };
}

function bad(message: string): BatonControlError {
  return new BatonControlError("BATON_BAD_REQUEST", message);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const c of req) {
    text += c;
    if (text.length > 1_000_000) throw bad("body over 1 MB");
  }
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw bad(`body is not JSON: ${(err as Error).message}`);
  }
}
