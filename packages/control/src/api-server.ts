import { createServer, type Server, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { apiRoutes } from "./api/api-routes.js";
import { bearerCheck } from "./api/bearer-token.js";
import { type ErrorReply, errorBody, errorReply } from "./api/error-reply.js";
import { redactEnvs } from "./api/redact-env.js";
import { badRequest, emptyQuery, parseInput, queryObject } from "./api-input.js";
import type { ControlPlane } from "./control-plane.js";
import { DASHBOARD_ROUTES, type Dashboard } from "./dashboard/dashboard.js";
import { BatonControlError } from "./errors.js";
import { CLIENT_ROUTES, checkClientToken, registerClientApi } from "./flags/client-api.js";
import type { FlagService } from "./flags/flag-service.js";
import type { GuardedRollouts } from "./flags/guarded-rollouts.js";
import type { MigrationMonitor } from "./migration/migration-monitor.js";
import type { AppMetrics } from "./release-metrics/app-metrics.js";
import { RELEASE_METRICS_ROUTE, registerReleaseMetricsApi } from "./release-metrics/release-metrics-api.js";

export { hashToken } from "./api/bearer-token.js";

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
  /**
   * Feature flags: the /v1/flags routes (admin token) and Unleash's client API under /api/client
   * (client tokens only). Without it, neither is served.
   */
  flags?: FlagService;
  /** Guarded rollouts of flags: their routes under /v1/flags/:name/guarded-rollout. */
  rollouts?: GuardedRollouts;
  /**
   * Where services report their own metrics (@baton/runtime's createReleaseMetrics), for
   * `analysis.metrics`: `POST /api/client/release-metrics`, with a client token (needs `flags`).
   */
  releaseMetrics?: AppMetrics;
  /** Where internal errors are reported (default: stderr). */
  log?: (line: string) => void;
  /** The service's database migration: `GET /v1/migration` and its complete and rollback. */
  migration?: MigrationMonitor;
  /** The web dashboard under `/`, its sessions and live events (needs `tokenSha256`). */
  dashboard?: Dashboard;
}

/** What the API drives: one control plane, or release waves over regions. */
export type ReleaseControl = Pick<
  ControlPlane,
  "deploy" | "wait" | "promote" | "abort" | "rollback" | "history" | "logs" | "store" | "audit"
> & { status(): Promise<unknown> };

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
/** Who a change made through a dashboard session is recorded as. */
const DASHBOARD_ACTOR = "dashboard";
// A client slow with its headers or body holds a connection no longer than this (Node's own
// defaults are 60 s and 300 s); long-polls (?wait=1) are answers, not requests, and unaffected.
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The control plane's HTTP API, used by the CLI, CI pipelines and the dashboard alike. Bound to
 * loopback by default; anywhere else it refuses to start without a token.
 */
export async function startApi(
  plane: ReleaseControl,
  opts: ApiOptions,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const app = buildApi(plane, opts);
  await app.ready();
  // Listened to here rather than by Fastify, which would also bind every address of "localhost".
  const server = app.server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  }).catch(async (err) => {
    await app.close().catch(() => {});
    throw err;
  });
  const { port } = server.address() as { port: number };
  return {
    server,
    url: `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`,
    // Fastify closes only a server it listened on itself: this one is closed here.
    close: async () => {
      await app.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * The API as a Fastify instance, not yet listening; its routes are added when it is made ready
 * (so an `onRoute` hook added before then sees every one).
 */
export function buildApi(plane: ReleaseControl, opts: ApiOptions): FastifyInstance {
  if (!LOOPBACK.has(opts.host) && !opts.tokenSha256) {
    throw new BatonControlError(
      "BATON_API_UNPROTECTED",
      `the API would listen on ${opts.host} without a token; set one, or bind to 127.0.0.1`,
    );
  }
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const authorized = bearerCheck(opts.tokenSha256);
  const routes = apiRoutes(plane, opts);

  const app = Fastify({
    logger: false,
    bodyLimit: maxBodyBytes,
    // Only the routes the API lists: no HEAD twin of every GET.
    exposeHeadRoutes: false,
    serverFactory: (handler) => {
      const server = createServer(handler);
      server.headersTimeout = HEADERS_TIMEOUT_MS;
      server.requestTimeout = REQUEST_TIMEOUT_MS;
      return server;
    },
    clientErrorHandler: answerClientError,
    // A bad percent-encoding or an overlong path parameter, found before any route is chosen.
    frameworkErrors: (err, request, reply) =>
      send(reply, errorReply(err, { requestId: request.id, maxBodyBytes })),
  });

  const send = (reply: FastifyReply, answer: ErrorReply) => {
    const { code } = answer.body.error;
    if (answer.internal)
      log(`API ${reply.request.method} ${reply.request.url} (${reply.request.id}): ${answer.internal}`);
    if (code === "BATON_UNAUTHORIZED") reply.header("www-authenticate", 'Bearer realm="baton"');
    // A body left unread is not received to its end: the connection closes instead.
    if (code === "BATON_BODY_TOO_LARGE") reply.header("connection", "close");
    return reply.code(answer.status).send(answer.body);
  };
  app.setErrorHandler((err, request, reply) =>
    send(reply, errorReply(err, { requestId: request.id, maxBodyBytes })),
  );
  // Releases' environments leave the API redacted (secret-looking names hidden, URL passwords
  // masked), whichever route carries them.
  app.setReplySerializer((payload) => `${JSON.stringify(redactEnvs(payload), null, 2)}\n`);

  /** Requests admitted by a dashboard session (not the bearer token). */
  const bySession = new WeakSet<object>();
  app.addHook("onRequest", async (request) => {
    const config = request.routeOptions.config as { public?: boolean; auth?: "client" };
    if (config.public) return;
    // Two kinds of token, each good for its own routes only: an SDK's client token reads flags and
    // nothing else, and the admin token is not handed to SDKs.
    if (config.auth === "client") checkClientToken(opts.flags, request.headers.authorization);
    // The dashboard's session cookie, when no bearer token is sent (its check refuses cross-site changes).
    else if (!authorized(request.headers.authorization)) {
      if (!(await opts.dashboard?.admits(request)))
        throw new BatonControlError(
          "BATON_UNAUTHORIZED",
          request.headers.authorization === undefined && /\bbaton_session=/.test(request.headers.cookie ?? "")
            ? "your dashboard session has ended (signed out, expired, or replaced by newer ones): sign in again"
            : "missing or wrong bearer token",
        );
      bySession.add(request);
    }
    // A web page can send a "simple" cross-origin POST (text/plain, no preflight); JSON only,
    // checked before the body is read.
    const type = request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
    if ((request.method === "POST" || request.method === "PUT") && type !== "application/json")
      throw new BatonControlError(
        "BATON_UNSUPPORTED_MEDIA_TYPE",
        `${request.method} bodies must be sent as application/json`,
      );
  });

  // A change made through the dashboard is the dashboard's in the audit log, whatever `actor` its
  // body claims: a session cannot sign its changes as `baton up` or someone's CLI.
  app.addHook("preHandler", async (request) => {
    const body = request.body;
    if (
      bySession.has(request) &&
      typeof body === "object" &&
      body !== null &&
      !Array.isArray(body) &&
      "actor" in body
    )
      (body as { actor: unknown }).actor = DASHBOARD_ACTOR;
  });

  // JSON.parse, not Fastify's parser: an empty body is `{}`, and a "__proto__" key stays an own key,
  // which parseInput then refuses naming its field.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
    // Decoded once, whole: a multi-byte character may be split across chunks.
    const text = (body as Buffer).toString("utf8");
    if (!text.trim()) return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(badRequest("body", `the body is not JSON: ${(err as Error).message}`), undefined);
    }
  });

  const clientRoutes = opts.flags
    ? [...CLIENT_ROUTES, ...(opts.releaseMetrics ? [RELEASE_METRICS_ROUTE] : [])]
    : [];
  const patterns = [...routes, ...clientRoutes, ...(opts.dashboard ? DASHBOARD_ROUTES : [])].map((r) => ({
    method: r.method,
    pattern: new RegExp(`^${r.path.replace(/:\w+/g, "[^/]+")}$`),
  }));
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split("?")[0]!;
    const allowed = patterns.filter((p) => p.pattern.test(path)).map((p) => p.method);
    if (allowed.length === 0)
      throw new BatonControlError("BATON_NOT_FOUND", `no route ${request.method} ${path}`);
    reply.header("allow", allowed.join(", "));
    throw new BatonControlError(
      "BATON_METHOD_NOT_ALLOWED",
      `${request.method} is not allowed on ${path}; ${allowed.join(", ")} is`,
    );
  });

  const { flags } = opts;
  if (flags) {
    registerClientApi(app, flags);
    if (opts.releaseMetrics) registerReleaseMetricsApi(app, opts.releaseMetrics);
    // Before the server waits for its connections to end: streams would never end by themselves.
    app.addHook("preClose", async () => flags.close());
  }

  opts.dashboard?.register(app, plane, opts);
  app.register(async (scope) => {
    for (const route of routes)
      scope.route({
        method: route.method,
        url: route.path,
        config: { public: route.public === true },
        handler: async (request, reply) => {
          const input = {
            params: route.params ? parseInput(route.params, request.params, "path") : undefined,
            query: parseInput(route.query ?? emptyQuery, queryObject(request.url), "query"),
            body: route.body
              ? parseInput(route.body, request.body === undefined ? {} : request.body, "body")
              : undefined,
          };
          const answer = await route.handle(input, reply);
          const status = route.accepted && reply.statusCode === 202 ? 202 : route.response.status;
          return reply.code(status).send(answer);
        },
      });
  });
  return app;
}

/**
 * What Node's HTTP parser refuses before Fastify sees a request (a timeout, headers too large,
 * not HTTP at all), answered in the same envelope; the connection then closes.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const answer =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? errorBody("BATON_REQUEST_TIMEOUT", "the request's headers or body took too long to arrive")
      : err.code === "HPE_HEADER_OVERFLOW"
        ? errorBody("BATON_HEADERS_TOO_LARGE", "the request's headers are too large")
        : errorBody("BATON_BAD_REQUEST", `the request is not valid HTTP (${err.code ?? err.message})`);
  // An answer already under way on this connection cannot be followed by another (as Node does).
  const under = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || under?.headersSent) return void socket.destroy();
  const text = `${JSON.stringify(answer.body, null, 2)}\n`;
  socket.end(
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}
