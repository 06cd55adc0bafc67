import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { parseDuration } from "./duration.js";
import { BatonRouterError, ConfigError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { Router } from "./router.js";

const MAX_BODY = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = "BATON_BAD_REQUEST",
  ) {
    super(message);
  }
}

/**
 * The router's admin API. Every route but `GET /health` needs the bearer token when one is
 * configured. Errors are JSON: `{ "error": { "code", "message", "issues"? } }`.
 */
export function createAdminServer(router: Router, token: string | undefined, log: Logger): Server {
  const expected = token ? createHash("sha256").update(token).digest() : undefined;
  const authorized = (req: IncomingMessage): boolean => {
    if (!expected) return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    if (!m) return false;
    return timingSafeEqual(createHash("sha256").update(m[1]!.trim()).digest(), expected);
  };

  const routes = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = parseTarget(req.url ?? "");
    const path = url.pathname;
    const method = req.method ?? "GET";
    if (path === "/health" && method === "GET") return json(res, 200, { status: "ok" });
    if (!authorized(req)) {
      res.setHeader("www-authenticate", 'Bearer realm="baton-router"');
      throw new HttpError(401, "missing or wrong bearer token", "BATON_UNAUTHORIZED");
    }
    if (path === "/metrics" && method === "GET") {
      const text = await router.metricsText();
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(text);
      return;
    }
    if (path === "/v1/services" && method === "GET") return json(res, 200, { services: router.services() });
    const svc = /^\/v1\/services\/([^/]+)$/.exec(path);
    if (svc) {
      const name = decodeSegment(svc[1]!);
      if (method === "GET") return json(res, 200, router.service(name));
      if (method === "PUT") {
        const body = await readJson(req);
        if (typeof body !== "object" || body === null || Array.isArray(body)) {
          throw new HttpError(400, "body must be a JSON object: one entry of `services`");
        }
        const named = { ...(body as Record<string, unknown>) };
        if (named.name === undefined) named.name = name;
        if (named.name !== name) {
          throw new HttpError(400, `body names service "${String(named.name)}" but the URL names "${name}"`);
        }
        const existed = router.hasService(name);
        const view = await router.applyService(named);
        return json(res, existed ? 200 : 201, view);
      }
      if (method === "DELETE") {
        await router.removeService(name);
        return json(res, 200, { removed: name });
      }
      throw new HttpError(405, `${method} is not allowed on ${path}`, "BATON_METHOD_NOT_ALLOWED");
    }
    const stats = /^\/v1\/stats\/([^/]+)$/.exec(path);
    if (stats && method === "GET") {
      const w = url.searchParams.get("window") ?? "60s";
      const ms = parseDuration(/^\d+$/.test(w) ? `${w}s` : w);
      if (ms === undefined || ms < 1000)
        throw new HttpError(400, `window must be a duration of 1s or more, got "${w}"`);
      return json(res, 200, router.stats(decodeSegment(stats[1]!), Math.round(ms / 1000)));
    }
    throw new HttpError(404, `no route ${method} ${path}`, "BATON_NOT_FOUND");
  };

  const server = createServer((req, res) => {
    routes(req, res).catch((err: unknown) => {
      // An answer already under way cannot become an error answer: cut it (and never throw here).
      if (res.headersSent) {
        log.error({ err: (err as Error).stack }, "admin request failed mid-answer");
        return void res.destroy();
      }
      if (err instanceof HttpError)
        return json(res, err.status, { error: { code: err.code, message: err.message } });
      if (err instanceof ConfigError) {
        return json(res, 400, { error: { code: err.code, message: err.message, issues: err.issues } });
      }
      if (err instanceof BatonRouterError) {
        return json(res, err.code === "BATON_UNKNOWN_SERVICE" ? 404 : 400, {
          error: { code: err.code, message: err.message },
        });
      }
      log.error({ err: (err as Error).stack }, "admin request failed");
      json(res, 500, { error: { code: "BATON_INTERNAL", message: (err as Error).message } });
    });
  });
  // A slow client of the admin API holds a connection no longer than this (Node: 60 s / 300 s).
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

/** The request target as a URL: a path (never `//host/...`, which a base URL would read as a host). */
function parseTarget(target: string): URL {
  if (!target.startsWith("/")) {
    throw new HttpError(400, `request target must be a path, got ${JSON.stringify(target)}`);
  }
  try {
    return new URL(`http://admin${target}`);
  } catch {
    throw new HttpError(400, `request target is not a valid path: ${JSON.stringify(target)}`);
  }
}

/** A path segment, percent-decoded; bad escapes (e.g. `%zz`, `%E0%A4`) are the caller's error. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `bad percent-encoding in path segment ${JSON.stringify(segment)}`);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `body over ${MAX_BODY} bytes`, "BATON_BODY_TOO_LARGE");
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`);
  }
}
