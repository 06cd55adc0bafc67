import { createHash, timingSafeEqual } from "node:crypto";
import { stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { z } from "zod";
import {
  actorBody,
  BodyTooLargeError,
  badRequest,
  deployBody,
  emptyQuery,
  logsQuery,
  parseInput,
  releaseId,
  releaseQuery,
  releasesQuery,
} from "./api-input.js";
import type { ControlPlane } from "./control-plane.js";
import { BatonControlError } from "./errors.js";

export interface ApiOptions {
  host: string;
  port: number;
  /** SHA-256 (hex) of the API token; only the digest is ever kept. */
  tokenSha256?: string;
  /** `POST /v1/down`: stop everything (instances, router) and exit; only `baton up` offers it. */
  onDown?: () => void;
  /** Fields added to `GET /v1/status` (`baton up` adds `router`: its supervised router process). */
  extraStatus?: () => Record<string, unknown>;
  /** Largest request body accepted, in bytes (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Where internal errors are reported (default: stderr). */
  log?: (line: string) => void;
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
  BATON_BODY_TOO_LARGE: 413,
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
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
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
    const body = <S extends z.ZodType>(schema: S) =>
      readJson(req, maxBody).then((b) => parseInput(schema, b, "body"));
    const query = <S extends z.ZodType>(schema: S) => parseInput(schema, queryObject(url), "query");

    if (m === "POST" && p === "/v1/deploy") {
      const input = await body(deployBody);
      if (input.dir !== undefined) {
        const info = await stat(input.dir).catch(() => undefined);
        if (!info?.isDirectory())
          throw badRequest("dir", `dir ${input.dir} is not a directory on the control plane's machine`);
      }
      const release = await plane.deploy({
        ...(input.version !== undefined ? { version: input.version } : {}),
        ...(input.dir !== undefined ? { cwd: input.dir } : {}),
        ...(input.strategy ? { strategy: input.strategy } : {}),
        env: input.env ?? {},
        ...(input.instances ? { instances: input.instances } : {}),
        actor: input.actor ?? "api",
      });
      return json(res, 202, release);
    }
    if (m === "GET" && p === "/v1/status") {
      query(emptyQuery);
      const status = (await plane.status()) as Record<string, unknown>;
      return json(res, 200, opts.extraStatus ? { ...status, ...opts.extraStatus() } : status);
    }
    if (m === "GET" && p === "/v1/releases")
      return json(res, 200, await plane.history(query(releasesQuery).limit));
    const one = /^\/v1\/releases\/([^/]+)$/.exec(p);
    if (m === "GET" && one) {
      const id = releaseId(decodeURIComponent(one[1]!));
      const release = query(releaseQuery).wait === "1" ? await plane.wait(id) : await plane.store.get(id);
      if (!release) throw new BatonControlError("BATON_UNKNOWN_RELEASE", `no release ${id}`);
      return json(res, 200, { release, decisions: await plane.store.decisions(id) });
    }
    if (m === "POST" && p === "/v1/promote") {
      await body(actorBody);
      plane.promote();
      return json(res, 202, { promoted: true });
    }
    if (m === "POST" && p === "/v1/abort") {
      plane.abort((await body(actorBody)).actor ?? "api");
      return json(res, 202, { aborting: true });
    }
    if (m === "POST" && p === "/v1/rollback")
      return json(res, 202, await plane.rollback((await body(actorBody)).actor ?? "api"));
    if (m === "GET" && p === "/v1/logs") {
      const q = query(logsQuery);
      return json(res, 200, await plane.logs(q.version, q.lines));
    }
    if (m === "POST" && p === "/v1/down" && opts.onDown) {
      await body(actorBody);
      json(res, 202, { stopping: true });
      opts.onDown();
      return;
    }
    if (m === "GET" && p === "/v1/audit/verify") {
      query(emptyQuery);
      return json(res, 200, await plane.audit.verify());
    }
    return json(res, 404, { error: { code: "BATON_NOT_FOUND", message: `no route ${m} ${p}` } });
  };

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const e = err as Error & { code?: unknown; field?: string };
      // Only Baton's own codes are part of the API; a PostgreSQL or Node code (22P05, EINVAL) is
      // an internal error, logged here with its own code so it can be traced.
      const code = typeof e.code === "string" && e.code.startsWith("BATON_") ? e.code : "BATON_INTERNAL";
      if (code === "BATON_INTERNAL")
        log(
          `API ${req.method} ${req.url}: internal error${e.code ? ` (${String(e.code)})` : ""}: ${e.stack ?? e.message}`,
        );
      if (res.headersSent) return res.destroy();
      // A body left unread (too large) is not received to its end: the connection closes instead.
      if (code === "BATON_BODY_TOO_LARGE") res.setHeader("connection", "close");
      json(res, STATUS[code] ?? 500, {
        error: { code, message: e.message, ...(e.field !== undefined ? { field: e.field } : {}) },
      });
    });
  });
  // A client slow with its headers or body holds a connection no longer than this (Node's own
  // defaults are 60 s and 300 s); long-polls (?wait=1) are answers, not requests, and unaffected.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return { server, url: `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}` };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The request body as JSON; an empty one is `{}`. Over `limit` bytes (by Content-Length, or as
 * it arrives) it is refused (413) without being read to the end.
 */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  if (Number(req.headers["content-length"] ?? 0) > limit) throw new BodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(c);
  }
  // Decoded once, whole: a multi-byte character may be split across chunks.
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest("body", `the body is not JSON: ${(err as Error).message}`);
  }
}

/** The query string as an object; a parameter given twice is refused rather than guessed at. */
function queryObject(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (Object.hasOwn(out, k)) throw badRequest(k, `query parameter ${k} is given more than once`);
    out[k] = v;
  }
  return out;
}
