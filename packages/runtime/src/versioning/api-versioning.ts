import type { IncomingHttpHeaders } from "node:http";
import { register as globalRegistry, type Registry } from "prom-client";
import { deprecationHeaders, type Retirement } from "./deprecation-headers.js";
import { type RouteInfo, type RouteScope, routeMatcher } from "./route-pattern.js";
import { UsageMetrics } from "./usage-metrics.js";
import { type Body, VersionChain, VersionTransformError } from "./version-chain.js";

/** What a change's transforms are told about the request. */
export interface ApiTransformContext extends RouteInfo {
  /** The client's version (the one the body is being read from, or written for). */
  version: string;
  clientId: string | undefined;
}

/**
 * One change to the API, Stripe-style: it belongs to the version that introduced it, and says how
 * to read an older request as the newer one and how to write a newer response as the older one.
 */
export interface ApiChange {
  /** The version that introduced the change, e.g. "v2" (requests in v1 go through it). */
  version: string;
  /** In words; error messages and logs quote it. */
  description: string;
  /**
   * The routes it concerns (`"POST /payments"`, `"/payments/:id"`, `"/payments/*"`), under
   * `pathPrefix` (`/api/v1/payments` is `/payments`); default all.
   */
  routes?: RouteScope;
  /** An older request body as the newer one. Throwing answers 400 (the client sent something it cannot mean). */
  request?: (body: Body, ctx: ApiTransformContext) => unknown;
  /** A newer response body (2xx only) as the older one. Throwing answers 500 (the change has a bug). */
  response?: (body: Body, ctx: ApiTransformContext) => unknown;
}

/** Where a request's version came from, tried in `order`. */
export type VersionSource = "header" | "path" | "pin";

export interface ApiVersioningOptions {
  /** Names this API in metrics (label `api`), when a service has several. Default "api". */
  name?: string;
  /** Every version served, oldest first; the last is the canonical model handlers are written against. */
  versions: readonly string[];
  changes?: readonly ApiChange[];
  /** Request header naming the version; `false`: not read. Default "api-version". */
  header?: string | false;
  /**
   * Read the version from the path segment after this prefix: "/api" reads `/api/v1/payments`,
   * "" reads `/v1/payments`. The segment is taken out: handlers see `/api/payments`, so each
   * route is written once. Default: not read. A segment is a version when it is one of `versions`
   * or matches `pathVersionPattern`, so `/api/v9/...` is answered 400, not routed as a path.
   */
  pathPrefix?: string;
  /** Default: `v` and a number (`v1`, `v2.1`), or a date (`2024-06-20`). */
  pathVersionPattern?: RegExp;
  /** Who is calling (an API key's id, a tenant): counted per version, and looked up in `pinnedVersion`. */
  clientId?: (req: RequestHead) => string | undefined;
  /**
   * The version a client is pinned to (Stripe pins an account at its first call). Called on every
   * request without a header or path version, so keep the pins in memory (load them at start,
   * refresh them in the background).
   */
  pinnedVersion?: (clientId: string, req: RequestHead) => string | undefined;
  /** The order sources are tried in; the first that names a version decides. Default header, path, pin. */
  order?: readonly VersionSource[];
  /** The version of a request that names none. Default: the latest. */
  defaultVersion?: string;
  /** Versions on their way out: their responses carry Deprecation, Sunset and Link headers. */
  retire?: Readonly<Record<string, Retirement>>;
  /** Where usage counters go. Default: prom-client's global registry. */
  registry?: Registry;
  /** Distinct client ids counted by name, the rest as "(other)" (bounds label cardinality). Default 100. */
  maxClients?: number;
  /** A transform or handler failure, after the client got its 4xx/5xx. Default: one JSON line on stderr. */
  onError?: (error: Error, where: RouteInfo & { version: string }) => void;
}

/** The parts of a request versioning reads (a node:http IncomingMessage has them). */
export interface RequestHead {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
}

/** A request's version, and its path with the version segment taken out. */
export interface ResolvedVersion {
  ok: true;
  version: string;
  source: VersionSource | "default";
  clientId: string | undefined;
  method: string;
  /** Path without the version segment and without the query. */
  path: string;
  /** The path under `pathPrefix` (the prefix taken off too): what change `routes` are matched against. */
  routePath: string;
  /** The URL the application should route: path without the version segment, with the query. */
  url: string;
  /** Headers for the response: the version served, `Vary`, and Deprecation/Sunset/Link. */
  headers: Readonly<Record<string, string>>;
}

/**
 * A request whose version cannot be served: 400 for a version that is not one of `versions`, 500
 * when `clientId` or `pinnedVersion` threw (a pinned client must not silently get the latest).
 */
export interface RefusedVersion {
  ok: false;
  status: 400 | 500;
  body: { error: string; received?: string; source?: VersionSource; supported: string[] };
}

export type VersionResolution = ResolvedVersion | RefusedVersion;

/** A failure turned into the answer the client gets. */
export interface ErrorAnswer {
  status: number;
  body: { error: string; version: string };
}

/** The versioning of one API, framework-free; the adapters (node:http, Express, Fastify) call it. */
export interface ApiVersioning {
  readonly versions: readonly string[];
  readonly latest: string;
  /** The request's version (memoised per request object). Counted in metrics on first call. */
  resolve(req: RequestHead): VersionResolution;
  /** The URL without the version segment: pass as Fastify's `rewriteUrl` to use path versions there. */
  rewriteUrl(req: RequestHead): string;
  /** A request body in the client's version, as the canonical model. Throws VersionTransformError. */
  upgradeRequest(body: unknown, resolved: ResolvedVersion): unknown;
  /** A canonical 2xx response body in the client's version (other statuses pass as they are). */
  downgradeResponse(body: unknown, resolved: ResolvedVersion, status: number): unknown;
  /** What to answer for a failure; `request`: while reading the request body. Reports it to onError. */
  failure(error: unknown, resolved: ResolvedVersion, during: "request" | "response" | "handler"): ErrorAnswer;
  /** The resolved version of a request the adapters have seen (for handlers that branch on it). */
  versionOf(req: object): ResolvedVersion | undefined;
}

const DEFAULT_PATH_VERSION = /^(v\d+(\.\d+)*|\d{4}-\d{2}-\d{2})$/;

/**
 * API versioning to one canonical model: each request's version comes from a header, a path
 * prefix or the client's pin; older request bodies are brought up to the newest model through the
 * chain of changes, and responses taken back down, so one handler serves every version.
 */
export function apiVersioning(options: ApiVersioningOptions): ApiVersioning {
  const api = options.name ?? "api";
  const chain = new VersionChain<ApiTransformContext>(
    options.versions,
    (options.changes ?? []).map((c) => ({
      version: c.version,
      description: c.description,
      applies: routeMatcher(c.routes),
      up: c.request,
      down: c.response,
    })),
  );
  const header = options.header === undefined ? "api-version" : options.header || undefined;
  const headerKey = header?.toLowerCase();
  const prefix = options.pathPrefix?.replace(/\/+$/, "");
  const pattern = options.pathVersionPattern ?? DEFAULT_PATH_VERSION;
  const order = options.order ?? ["header", "path", "pin"];
  const fallback = options.defaultVersion ?? chain.latest;
  if (!chain.has(fallback))
    throw new Error(`versioning: defaultVersion "${fallback}" is not one of ${options.versions.join(", ")}`);
  for (const v of Object.keys(options.retire ?? {}))
    if (!chain.has(v))
      throw new Error(`versioning: retire names "${v}", which is not one of ${options.versions.join(", ")}`);
  const metrics = new UsageMetrics(
    options.registry ?? globalRegistry,
    api,
    Math.max(0, options.maxClients ?? 100),
  );
  // Response headers per version, computed once.
  const headersOf = new Map<string, Readonly<Record<string, string>>>();
  for (const v of options.versions) {
    const retire = options.retire?.[v];
    headersOf.set(v, {
      ...(headerKey ? { [headerKey]: v, vary: headerKey } : {}),
      ...(retire ? deprecationHeaders(v, retire) : {}),
    });
  }
  const onError =
    options.onError ??
    ((error: Error, where: RouteInfo & { version: string }) =>
      process.stderr.write(
        `${JSON.stringify({ level: "error", msg: `api versioning (${api}): ${error.message}`, ...where })}\n`,
      ));
  const resolved = new WeakMap<object, VersionResolution>();

  function resolveNow(req: RequestHead): VersionResolution {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    let path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? "" : url.slice(q);
    let fromPath: string | undefined;
    if (prefix !== undefined && (path === prefix || path.startsWith(`${prefix}/`))) {
      const rest = path.slice(prefix.length + 1);
      const slash = rest.indexOf("/");
      const segment = slash < 0 ? rest : rest.slice(0, slash);
      if (segment && (chain.has(segment) || pattern.test(segment))) {
        fromPath = segment;
        path = `${prefix}${slash < 0 ? "" : rest.slice(slash)}` || "/";
      }
    }
    const clientId = options.clientId?.(req);
    const named: Record<VersionSource, () => string | undefined> = {
      header: () => {
        const value = headerKey ? req.headers[headerKey] : undefined;
        return (Array.isArray(value) ? value[0] : value)?.trim() || undefined;
      },
      path: () => fromPath,
      pin: () => (clientId !== undefined ? options.pinnedVersion?.(clientId, req) : undefined),
    };
    for (const source of order) {
      const version = named[source]();
      if (version === undefined) continue;
      if (!chain.has(version)) {
        metrics.unknownVersion();
        const where =
          source === "header" ? `the ${header} header` : source === "path" ? "the path" : "the client's pin";
        return {
          ok: false,
          status: 400,
          body: {
            error: `unknown API version "${version.slice(0, 64)}" (from ${where}); supported: ${options.versions.join(", ")}`,
            received: version.slice(0, 64),
            source,
            supported: [...options.versions],
          },
        };
      }
      return found(version, source);
    }
    return found(fallback, "default");

    function found(version: string, source: VersionSource | "default"): ResolvedVersion {
      metrics.record(version, source, clientId);
      return {
        ok: true,
        version,
        source,
        clientId,
        method: (req.method ?? "GET").toUpperCase(),
        path,
        routePath:
          prefix && (path === prefix || path.startsWith(`${prefix}/`))
            ? path.slice(prefix.length) || "/"
            : path,
        url: `${path}${query}`,
        headers: headersOf.get(version)!,
      };
    }
  }

  const contextOf = (r: ResolvedVersion): ApiTransformContext => ({
    method: r.method,
    path: r.routePath,
    version: r.version,
    clientId: r.clientId,
  });

  function resolve(req: RequestHead): VersionResolution {
    let r = resolved.get(req);
    if (!r) {
      try {
        r = resolveNow(req);
      } catch (err) {
        // clientId or pinnedVersion threw: answered, never thrown out of a request listener.
        const path = (req.url ?? "/").split("?")[0]!;
        onError(err instanceof Error ? err : new Error(String(err)), {
          method: req.method ?? "GET",
          path,
          version: "(unresolved)",
        });
        r = {
          ok: false,
          status: 500,
          body: { error: "could not determine the API version (logged)", supported: [...options.versions] },
        };
      }
      resolved.set(req, r);
    }
    return r;
  }

  return {
    versions: chain.versions,
    latest: chain.latest,
    resolve,
    // Not a method using `this`: Fastify calls rewriteUrl with itself as `this`.
    rewriteUrl: (req) => {
      const r = resolve(req);
      return r.ok ? r.url : (req.url ?? "/");
    },
    upgradeRequest(body, r) {
      return chain.upgrade(body, r.version, contextOf(r));
    },
    downgradeResponse(body, r, status) {
      if (status < 200 || status > 299 || body === null || typeof body !== "object") return body;
      return chain.downgrade(body, r.version, contextOf(r));
    },
    failure(error, r, during) {
      const err = error instanceof Error ? error : new Error(String(error));
      onError(err, { method: r.method, path: r.path, version: r.version });
      if (during === "request")
        return {
          status: 400,
          body: {
            error:
              err instanceof VersionTransformError
                ? err.message
                : `the request body cannot be read as API version ${r.version}: ${err.message}`,
            version: r.version,
          },
        };
      return {
        status: 500,
        body: {
          error:
            during === "response"
              ? `the response could not be written in API version ${r.version} (logged)`
              : "internal error (logged)",
          version: r.version,
        },
      };
    },
    versionOf(req) {
      const r = resolved.get(req);
      return r?.ok ? r : undefined;
    },
  };
}
