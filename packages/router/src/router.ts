import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Registry } from "prom-client";
import { createAdminServer } from "./admin-server.js";
import { configToInput, parseServiceConfig, serviceToInput, validateRouterConfig } from "./config.js";
import type { RouterConfig, RouterConfigInput, ServiceConfig } from "./config-schema.js";
import { UnknownServiceError } from "./errors.js";
import { HttpProxy } from "./http-proxy.js";
import { InstanceState } from "./instance-state.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetricsRegistry } from "./metrics.js";
import { rejectUpgrade } from "./reject-upgrade.js";
import { hostOf, requestHeadProblem } from "./request-head.js";
import { Service } from "./service.js";
import { digest, readState, writeState } from "./state-store.js";
import { TrustedProxies } from "./trusted-proxies.js";
import { type ServiceView, type StatsView, serviceView, statsView } from "./views.js";
import { WebSocketProxy } from "./websocket-proxy.js";

export interface RouterOptions {
  logger?: Logger;
  /** Text of the config file: a saved state is resumed only if it was made from this same text. */
  configText?: string;
}

/**
 * The data plane: a proxy listener, an admin listener, and the services between them.
 * Changes (API or reload) are validated in full, saved, and only then swapped in.
 */
export class Router {
  private config: RouterConfig;
  private readonly services_ = new Map<string, Service>();
  private hostMap = new Map<string, Service>();
  private defaultService: Service | undefined;
  private readonly proxyServer: Server;
  private readonly websockets: WebSocketProxy;
  private readonly trust: TrustedProxies;
  private adminServer: Server | undefined;
  private readonly log: Logger;
  private readonly registry: Registry;
  private connections = 0;
  private configDigest: string;
  private saving: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(config: RouterConfig, opts: RouterOptions = {}) {
    // Validated again (cheap, idempotent): a library caller's object must meet the same rules as
    // a file, e.g. a version that is not a valid header value would break every response.
    config = validateRouterConfig(config);
    this.config = config;
    this.log = opts.logger ?? createLogger();
    this.configDigest = digest(opts.configText ?? JSON.stringify(config));
    const limits = config.limits;
    const resolve = (req: IncomingMessage) => this.resolve(req);
    this.trust = new TrustedProxies(config.trustedProxies);
    const http = new HttpProxy(resolve, this.log, this.trust);
    const ws = new WebSocketProxy(resolve, this.log, this.trust, {
      maxMessageBytes: limits.websocketMaxMessageBytes,
      maxBufferedBytes: limits.websocketMaxBufferedBytes,
    });
    this.websockets = ws;
    const maxRaw = limits.maxHeaderCount * 2;
    this.proxyServer = createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        headersTimeout: limits.headersTimeout,
        requestTimeout: limits.requestTimeout,
        keepAliveTimeout: limits.keepAliveTimeout,
        connectionsCheckingInterval: Math.min(1000, limits.headersTimeout),
        noDelay: true,
      },
      (req, res) => {
        // One request's failure is answered (or its connection cut) and logged; it never
        // reaches the event loop as an exception, which would end the process for everyone.
        try {
          if (req.rawHeaders.length > maxRaw) {
            return plainError(res, 431, `more than ${limits.maxHeaderCount} request headers`);
          }
          const problem = requestHeadProblem(req);
          if (problem) return plainError(res, 400, problem);
          http.handle(req, res);
        } catch (err) {
          this.exchangeFailed(err, req, "HTTP request");
          plainError(res, 500, "the router failed on this request (logged)");
        }
      },
    );
    // One more than the limit, so that going over it is visible (and refused) rather than truncated.
    this.proxyServer.maxHeadersCount = limits.maxHeaderCount + 1;
    this.proxyServer.setTimeout(limits.idleTimeout);
    this.proxyServer.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.setTimeout(0); // WebSockets may idle; their own pings keep them honest
      try {
        if (req.rawHeaders.length > maxRaw) {
          return rejectUpgrade(socket, 431, `more than ${limits.maxHeaderCount} request headers`);
        }
        const problem = requestHeadProblem(req);
        if (problem) return rejectUpgrade(socket, 400, problem);
        ws.handle(req, socket, head);
      } catch (err) {
        this.exchangeFailed(err, req, "WebSocket upgrade");
        socket.destroy();
      }
    });
    // A reverse proxy is no tunnel: CONNECT gets a clear refusal instead of a closed connection.
    this.proxyServer.on("connect", (_req: IncomingMessage, socket: Socket) => {
      rejectUpgrade(socket, 405, "CONNECT is not supported: this is a reverse proxy, not a forward one");
    });
    this.proxyServer.on("connection", (socket: Socket) => {
      this.connections++;
      socket.once("close", () => this.connections--);
    });
    for (const svc of config.services) this.services_.set(svc.name, new Service(svc.name, svc, this.log));
    this.rebuildHostMap();
    this.registry = createMetricsRegistry(
      () => this.services_.values(),
      () => this.connections,
    );
  }

  /** Resumes the saved state (if it belongs to this config) and starts listening. */
  async start(): Promise<void> {
    await this.resumeSavedState();
    await listen(this.proxyServer, this.config.listen.host, this.config.listen.port);
    if (this.config.admin) {
      this.adminServer = createAdminServer(this, this.config.admin.token, this.log);
      await listen(this.adminServer, this.config.admin.listen.host, this.config.admin.listen.port);
    }
    this.log.info(
      { listen: this.address, admin: this.adminAddress, services: [...this.services_.keys()] },
      "router started",
    );
  }

  get address(): { host: string; port: number } {
    const a = this.proxyServer.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  get adminAddress(): { host: string; port: number } | undefined {
    const a = this.adminServer?.address() as AddressInfo | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  /** Bytes all proxied WebSockets hold in the router now (capped by limits.websocketMaxBufferedBytes). */
  get websocketBufferedBytes(): number {
    return this.websockets.bufferedBytes;
  }

  hasService(name: string): boolean {
    return this.services_.has(name);
  }

  services(): ServiceView[] {
    return [...this.services_.values()].map(serviceView);
  }

  service(name: string): ServiceView {
    return serviceView(this.get(name));
  }

  stats(name: string, windowSeconds: number): StatsView {
    return statsView(this.get(name), windowSeconds);
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Creates or replaces one service. The whole resulting config is validated first (so a host
   * clash with another service is refused too), saved, and then swapped in atomically.
   */
  async applyService(input: unknown): Promise<ServiceView> {
    const name = (input as { name?: unknown }).name;
    // The body alone first, so that paths in errors are relative to what the caller sent.
    parseServiceConfig(input, `service "${String(name)}"`);
    const others = this.config.services.filter((s) => s.name !== name).map(serviceToInput);
    const candidate = validateRouterConfig(
      { ...this.configInput(), services: [...others, input] } as RouterConfigInput,
      `service "${String(name)}"`,
    );
    const svc = candidate.services.find((s) => s.name === name)!;
    await this.commit(candidate);
    const existing = this.services_.get(svc.name);
    if (existing) existing.apply(svc);
    else this.services_.set(svc.name, new Service(svc.name, svc, this.log));
    this.rebuildHostMap();
    this.log.info({ service: svc.name, tracks: summarizeTracks(svc) }, "service applied");
    return serviceView(this.get(svc.name));
  }

  /** Removes a service: it gets no new requests and its instances drain. */
  async removeService(name: string): Promise<void> {
    const svc = this.get(name);
    await this.commit({ ...this.config, services: this.config.services.filter((s) => s.name !== name) });
    this.services_.delete(name);
    this.rebuildHostMap();
    svc.drainAll();
    this.log.info({ service: name }, "service removed; draining");
  }

  /** Replaces every service with those of a new config (SIGHUP). Listen addresses need a restart. */
  async reload(config: RouterConfig, configText?: string): Promise<void> {
    config = validateRouterConfig(config);
    if (JSON.stringify(config.listen) !== JSON.stringify(this.config.listen)) {
      this.log.warn({ listen: config.listen }, "a new listen address takes effect at the next restart");
    }
    if (configText !== undefined) this.configDigest = digest(configText);
    await this.commit({ ...config, listen: this.config.listen, admin: this.config.admin });
    this.trust.update(config.trustedProxies);
    const keep = new Set(config.services.map((s) => s.name));
    for (const svc of config.services) {
      const existing = this.services_.get(svc.name);
      if (existing) existing.apply(svc);
      else this.services_.set(svc.name, new Service(svc.name, svc, this.log));
    }
    for (const [name, svc] of this.services_) {
      if (!keep.has(name)) {
        this.services_.delete(name);
        svc.drainAll();
      }
    }
    this.rebuildHostMap();
    this.log.info({ services: [...keep] }, "configuration reloaded");
  }

  /**
   * Graceful stop: no new connections, every instance drains (in-flight requests finish, WebSockets
   * get until the drain timeout and are then closed with 1001 in batches), then the listeners close.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.proxyServer.close();
    this.proxyServer.closeIdleConnections();
    const all = [...this.services_.values()];
    for (const s of all) s.drainAll();
    const deadline = Math.max(0, ...all.map((s) => s.config.drain.timeout)) + 5_000;
    const started = Date.now();
    while (
      Date.now() - started < deadline &&
      all.some((s) => [...s.instances.values()].some((i) => i.state !== InstanceState.Stopped))
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.close();
  }

  /** Immediate stop: closes listeners and every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.proxyServer.closeAllConnections();
    await Promise.all([
      new Promise((r) => this.proxyServer.close(r)),
      this.adminServer
        ? new Promise((r) => {
            this.adminServer!.closeAllConnections();
            this.adminServer!.close(r);
          })
        : undefined,
      ...[...this.services_.values()].map((s) => s.close()),
    ]);
    await this.saving;
  }

  // ---- internals ---------------------------------------------------------------------------

  private get(name: string): Service {
    const s = this.services_.get(name);
    if (!s) throw new UnknownServiceError(name);
    return s;
  }

  private resolve(req: IncomingMessage): Service | undefined {
    if (this.hostMap.size === 0) return this.defaultService;
    const host = hostOf(req);
    if (host === undefined) return this.defaultService;
    const colon = host.lastIndexOf(":");
    const bare = (colon > 0 && host.indexOf("]") < colon ? host.slice(0, colon) : host).toLowerCase();
    return this.hostMap.get(bare) ?? this.defaultService;
  }

  private exchangeFailed(err: unknown, req: IncomingMessage, what: string): void {
    this.log.error(
      { err: err instanceof Error ? err.stack : String(err), method: req.method, target: req.url },
      `${what} failed; refused it and carried on`,
    );
  }

  private rebuildHostMap(): void {
    const map = new Map<string, Service>();
    let fallback: Service | undefined;
    for (const s of this.services_.values()) {
      if (!s.config.hosts) fallback = s;
      for (const h of s.config.hosts ?? []) map.set(h, s);
    }
    this.hostMap = map;
    this.defaultService = fallback;
  }

  private configInput(): Record<string, unknown> {
    return configToInput(this.config);
  }

  /** Saves the new config (when a state file is configured), then makes it current. */
  private async commit(next: RouterConfig): Promise<void> {
    const file = this.config.stateFile;
    if (file) {
      const save = this.saving.then(() =>
        writeState(file, {
          configDigest: this.configDigest,
          savedAt: new Date().toISOString(),
          services: next.services.map(serviceToInput),
        }),
      );
      this.saving = save.catch(() => {});
      await save;
    }
    this.config = next;
  }

  private async resumeSavedState(): Promise<void> {
    const file = this.config.stateFile;
    if (!file) return;
    let saved: Awaited<ReturnType<typeof readState>>;
    try {
      saved = await readState(file);
    } catch (err) {
      this.log.error(
        { stateFile: file, err: (err as Error).message },
        "saved state cannot be read; using the config file",
      );
      return;
    }
    if (!saved) return;
    if (saved.configDigest !== this.configDigest) {
      this.log.warn(
        { stateFile: file },
        "the config file changed since the saved state; using the config file",
      );
      return;
    }
    try {
      const cfg = validateRouterConfig(
        { ...this.configInput(), services: saved.services } as RouterConfigInput,
        file,
      );
      await this.reload(cfg);
      this.log.info({ stateFile: file, savedAt: saved.savedAt }, "resumed the last applied configuration");
    } catch (err) {
      this.log.error(
        { stateFile: file, err: (err as Error).message },
        "saved state is invalid; using the config file",
      );
    }
  }
}

function summarizeTracks(svc: ServiceConfig): string {
  return Object.entries(svc.tracks)
    .map(([n, t]) => `${n}=${t.version}@${t.weight / 100}%x${t.instances.length}`)
    .join(" ");
}

/** A plain-text error answer that cannot itself throw: when it cannot be sent, the connection goes. */
function plainError(res: ServerResponse, status: number, message: string): void {
  try {
    if (res.headersSent) return void res.destroy();
    const body = `${message}\n`;
    res.writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      connection: "close",
    });
    res.end(body);
  } catch {
    res.destroy();
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Validates `config`, builds the router and starts it listening. */
export async function createRouter(
  config: RouterConfigInput | RouterConfig,
  opts: RouterOptions = {},
): Promise<Router> {
  const router = new Router(validateRouterConfig(config), opts);
  await router.start();
  return router;
}
