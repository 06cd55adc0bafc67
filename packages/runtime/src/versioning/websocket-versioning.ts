import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { register as globalRegistry, type Registry } from "prom-client";
import { type Body, VersionChain } from "./version-chain.js";
import { type ProtocolTransformContext, VersionedSocket, type WebSocketLike } from "./versioned-socket.js";
import { WebSocketMetrics } from "./websocket-metrics.js";

/** One change to a WebSocket protocol: the same kind of change as an API's, for messages. */
export interface ProtocolChange {
  /** The protocol that introduced it, e.g. "quotes.v2". */
  version: string;
  description: string;
  /** A client message in the older protocol as the newer one. Throwing closes the connection with 1007. */
  fromClient?: (message: Body, ctx: ProtocolTransformContext) => unknown;
  /** A server message in the newer protocol as the older one. */
  toClient?: (message: Body, ctx: ProtocolTransformContext) => unknown;
}

export interface WebSocketVersioningOptions {
  /** Sub-protocols served, oldest first, e.g. ["quotes.v1", "quotes.v2"]; the last is the canonical model. */
  protocols: readonly string[];
  changes?: readonly ProtocolChange[];
  /** The protocol of a client that offers none (older clients that predate negotiation). Default: refused. */
  defaultProtocol?: string;
  /** Largest message accepted, in bytes; larger closes the connection with 1009 (`ws` maxPayload). Default 64 KiB. */
  maxPayload?: number;
  /** Where the connection gauges go. Default: prom-client's global registry. */
  registry?: Registry;
  /** A transform or handler failure. Default: one JSON line on stderr. */
  onError?: (error: Error, protocol: string) => void;
}

/** Options for `new WebSocketServer({ server, path, ...versions.serverOptions })`. */
export interface VersionedServerOptions {
  handleProtocols: (offered: Set<string>, req: IncomingMessage) => string | false;
  verifyClient: (
    info: { req: IncomingMessage },
    callback: (ok: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void,
  ) => void;
  maxPayload: number;
}

export interface WebSocketVersioning<In = Body, Out = Body> {
  readonly protocols: readonly string[];
  readonly latest: string;
  /** Negotiation, refusal and size limit for `ws`'s WebSocketServer. */
  readonly serverOptions: VersionedServerOptions;
  /** The protocol chosen for what a client offers: the newest both sides speak, or undefined. */
  negotiate(offered: Iterable<string>): string | undefined;
  /** Wraps a connection (from the server's "connection" event) in a session of its protocol. */
  accept(ws: WebSocketLike): VersionedSocket<In, Out>;
  /** Sends a canonical message to every open session, written once per protocol. Returns how many. */
  broadcast(message: Out): number;
  /** Sessions open now. */
  readonly sessions: ReadonlySet<VersionedSocket<In, Out>>;
}

/**
 * WebSocket protocol versioning on `ws`: negotiates `Sec-WebSocket-Protocol` (the newest version
 * both sides speak), refuses a client that speaks none with a 400 listing the supported ones
 * before the upgrade, keeps the protocol for the connection's lifetime, and translates messages
 * both ways so the handler is written once against the newest message model.
 */
export function webSocketVersioning<In = Body, Out = Body>(
  options: WebSocketVersioningOptions,
): WebSocketVersioning<In, Out> {
  const chain = new VersionChain<ProtocolTransformContext>(
    options.protocols,
    (options.changes ?? []).map((c) => ({
      version: c.version,
      description: c.description,
      applies: () => true,
      up: c.fromClient,
      down: c.toClient,
    })),
    "protocol",
  );
  const fallback = options.defaultProtocol;
  if (fallback !== undefined && !chain.has(fallback))
    throw new Error(
      `versioning: defaultProtocol "${fallback}" is not one of ${options.protocols.join(", ")}`,
    );
  const newestFirst = [...options.protocols].reverse();
  const metrics = new WebSocketMetrics(options.registry ?? globalRegistry);
  const onError =
    options.onError ??
    ((error: Error, protocol: string) =>
      process.stderr.write(
        `${JSON.stringify({ level: "error", msg: `websocket versioning: ${error.message}`, protocol })}\n`,
      ));
  const sessions = new Set<VersionedSocket<In, Out>>();
  const hooks = {
    closed(session: VersionedSocket) {
      if (sessions.delete(session as VersionedSocket<In, Out>)) metrics.closed(session.protocol);
    },
    error: onError,
  };

  const negotiate = (offered: Iterable<string>): string | undefined => {
    const set = new Set(offered);
    return newestFirst.find((p) => set.has(p));
  };
  const offeredBy = (req: IncomingMessage): string[] =>
    (req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean);

  return {
    protocols: chain.versions,
    latest: chain.latest,
    negotiate,
    sessions,
    serverOptions: {
      maxPayload: options.maxPayload ?? 64 * 1024,
      // `ws` leaves the protocol out of the 101 when this returns false; a client that offered
      // none and has a default gets no protocol header, which is what it expects.
      handleProtocols: (offered) => negotiate(offered) ?? false,
      verifyClient: ({ req }, callback) => {
        const offered = offeredBy(req);
        if (negotiate(offered) || (offered.length === 0 && fallback !== undefined)) return callback(true);
        metrics.refusal();
        const body = JSON.stringify({
          error:
            offered.length === 0
              ? `no WebSocket protocol offered (Sec-WebSocket-Protocol); supported: ${newestFirst.join(", ")}`
              : `none of the offered WebSocket protocols is supported; supported: ${newestFirst.join(", ")}`,
          offered: offered.slice(0, 16).map((p) => p.slice(0, 64)),
          supported: newestFirst,
        });
        // ws writes `Content-Type: text/html` itself: the same spelling replaces it rather than adding a second one.
        callback(false, 400, body, { "Content-Type": "application/json" });
      },
    },
    accept(ws) {
      const protocol = ws.protocol || fallback;
      const session = new VersionedSocket<In, Out>(ws, protocol ?? "", chain, hooks);
      if (protocol === undefined || !chain.has(protocol)) {
        // Accepted without our serverOptions: the client never agreed on a protocol we speak.
        session.close(1002, `no supported protocol negotiated; supported: ${newestFirst.join(", ")}`);
        return session;
      }
      sessions.add(session);
      metrics.opening(protocol);
      return session;
    },
    broadcast(message) {
      const encoded = new Map<string, string | undefined>();
      let sent = 0;
      for (const s of sessions) {
        if (!encoded.has(s.protocol)) {
          try {
            encoded.set(
              s.protocol,
              JSON.stringify(chain.downgrade(message, s.protocol, { protocol: s.protocol })),
            );
          } catch (err) {
            onError(err as Error, s.protocol);
            encoded.set(s.protocol, undefined);
          }
        }
        const text = encoded.get(s.protocol);
        if (text !== undefined && s.sendEncoded(text)) sent++;
      }
      return sent;
    },
  };
}
