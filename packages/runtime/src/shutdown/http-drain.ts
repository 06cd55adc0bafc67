import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** What was still open when a shutdown was cut short, for its log line and its report. */
export interface OpenWork {
  /** Requests received and not yet answered. */
  requestsInFlight: number;
  /** Those requests by `METHOD path` (query strings left out), with how many of each. */
  requests: Record<string, number>;
  /** The oldest of them, in ms since it arrived. */
  oldestRequestMs: number;
  /** TCP connections still open (HTTP keep-alive, upgraded, or in flight). */
  sockets: number;
  /** WebSockets of the servers given that have not finished closing. */
  websockets: number;
}

interface InFlight {
  key: string;
  since: number;
}

/**
 * Follows one server's connections and requests through the server's own 'connection' and
 * 'request' events (nothing of Node's is patched), and drains them: every response from the
 * moment `preferClose()` is called asks its client to reconnect (`Connection: close`), `stop()`
 * stops accepting and closes idle keep-alive connections, and a connection that becomes idle
 * afterwards is closed as soon as its last response has gone out.
 */
export class HttpDrain {
  private readonly inFlight = new Map<ServerResponse, InFlight>();
  private readonly sockets = new Set<Socket>();
  private counting = false;
  private closing = false;
  private stopped = false;
  private idleSweep: NodeJS.Immediate | undefined;
  /** Responses finished since `countFromNow()`: what the service served while it shut down. */
  served = 0;

  constructor(private readonly server: Server) {
    // First in line, so that the header is set before the application can send its own.
    server.prependListener("request", this.onRequest);
    server.on("connection", this.onConnection);
  }

  /** Counts the responses that finish from now on (the shutdown began). */
  countFromNow(): void {
    this.counting = true;
  }

  /** From now on every response carries `Connection: close`: clients move on one by one. */
  preferClose(): void {
    this.closing = true;
    for (const res of this.inFlight.keys()) askToClose(res);
  }

  /**
   * Stops accepting connections and closes the idle ones. Resolves when every connection of the
   * server is gone (the server's 'close' event): responses finished, WebSockets closed.
   */
  stop(): Promise<void> {
    this.preferClose();
    this.stopped = true;
    const closed = new Promise<void>((resolve) => {
      this.server.close((err) => {
        if (!err) return resolve();
        // Closed before (by the application): wait for its connections ourselves.
        const poll = () =>
          this.server.getConnections((_e, n) => (n === 0 ? resolve() : setTimeout(poll, 50).unref()));
        poll();
      });
    });
    // Node 19+ closes idle connections in close(); said again for servers that were not listening.
    this.server.closeIdleConnections();
    return closed;
  }

  /** Ends every connection still open (the drain deadline passed). */
  destroyAll(): void {
    this.server.closeAllConnections();
    // Upgraded sockets are no longer the HTTP server's to close.
    for (const s of this.sockets) s.destroy();
  }

  /** What is still open now (`websockets` is filled in by the caller, which knows them). */
  open(): OpenWork {
    const requests: Record<string, number> = {};
    let oldest = Date.now();
    for (const r of this.inFlight.values()) {
      requests[r.key] = (requests[r.key] ?? 0) + 1;
      oldest = Math.min(oldest, r.since);
    }
    return {
      requestsInFlight: this.inFlight.size,
      requests,
      oldestRequestMs: this.inFlight.size > 0 ? Date.now() - oldest : 0,
      sockets: this.sockets.size,
      websockets: 0,
    };
  }

  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  /** Stops following the server (the shutdown handle was disposed). */
  dispose(): void {
    this.server.off("request", this.onRequest);
    this.server.off("connection", this.onConnection);
    clearImmediate(this.idleSweep);
  }

  private readonly onConnection = (socket: Socket): void => {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  };

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    this.inFlight.set(res, { key: `${req.method} ${path}`, since: Date.now() });
    if (this.closing) askToClose(res);
    res.once("close", () => {
      this.inFlight.delete(res);
      if (this.counting) this.served++;
      // A response whose headers went out before the shutdown promised keep-alive: once it is
      // done its connection is idle, and is closed (one sweep for all that finish together).
      if (this.stopped && !this.idleSweep)
        this.idleSweep = setImmediate(() => {
          this.idleSweep = undefined;
          this.server.closeIdleConnections();
        });
    });
  };
}

/** Sets `Connection: close` while it can still be sent; Node then ends the socket after it. */
function askToClose(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader("connection", "close");
}
