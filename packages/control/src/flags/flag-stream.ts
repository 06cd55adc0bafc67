import type { IncomingMessage, ServerResponse } from "node:http";
import type { DeltaEvent } from "@baton/flags";
import type { FlagSnapshot } from "./flag-snapshot.js";

export interface FlagStreamOptions {
  /** A comment line this often, so that proxies and the SDK's read timeout (60 s) keep the stream. */
  heartbeatMs?: number;
  /**
   * Bytes a connection may have waiting to be sent beyond its first event; a client that reads
   * slower than flags change is cut (it reconnects and gets a fresh state) rather than buffered for.
   */
  maxBufferBytes?: number;
  /** Delta events kept for clients that reconnect with `Last-Event-ID`; older ones get a hydration. */
  retainedEvents?: number;
}

interface Client {
  res: ServerResponse;
  /** writableLength above which the client is cut. */
  limit: number;
}

/**
 * `GET /api/client/streaming`: server-sent events as unleash-client's streaming mode reads them.
 * A client gets `unleash-connected` with a hydration (the whole state), then `unleash-updated`
 * with delta events as changes commit; each event's `id` is the change id, so a client that
 * reconnects with `Last-Event-ID` gets only what it missed (or nothing, or a hydration when the
 * id is no longer known).
 */
export class FlagStream {
  private readonly clients = new Set<Client>();
  private readonly recent: DeltaEvent[] = [];
  private readonly heartbeat: NodeJS.Timeout;
  private readonly maxBufferBytes: number;
  private readonly retained: number;
  /** Clients cut for reading too slowly, since start. */
  cut = 0;

  constructor(
    private readonly snapshot: FlagSnapshot,
    opts: FlagStreamOptions = {},
  ) {
    this.maxBufferBytes = opts.maxBufferBytes ?? 4 * 1024 * 1024;
    this.retained = opts.retainedEvents ?? 1000;
    this.heartbeat = setInterval(() => this.broadcast(": keep-alive\n\n"), opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  /** Connected clients. */
  get size(): number {
    return this.clients.size;
  }

  /** Takes over the response: headers, the first event, then every change until either side closes. */
  connect(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      // nginx and its kin buffer responses unless told not to.
      "x-accel-buffering": "no",
    });
    res.socket?.setNoDelay(true);
    const first = this.firstFrame(req.headers["last-event-id"]);
    const client: Client = { res, limit: this.maxBufferBytes + Buffer.byteLength(first) };
    this.clients.add(client);
    const drop = () => this.clients.delete(client);
    res.on("close", drop);
    req.on("close", drop);
    this.send(client, first);
  }

  /** Sends committed changes, in order, to every client. */
  publish(events: readonly DeltaEvent[]): void {
    if (events.length === 0) return;
    this.recent.push(...events);
    if (this.recent.length > this.retained) this.recent.splice(0, this.recent.length - this.retained);
    this.broadcast(frame("unleash-updated", events));
  }

  /** Ends every stream (the API is closing). */
  close(): void {
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.res.end();
    this.clients.clear();
  }

  private firstFrame(lastEventId: string | string[] | undefined): string {
    const last = typeof lastEventId === "string" && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : -1;
    if (last === this.snapshot.changeId) return ": up to date\n\n";
    const oldest = this.recent[0]?.eventId;
    // Resumable when every change after `last` is still retained (ids are contiguous).
    if (last >= 0 && last < this.snapshot.changeId && oldest !== undefined && oldest <= last + 1)
      return frame(
        "unleash-updated",
        this.recent.filter((e) => e.eventId > last),
      );
    return frame("unleash-connected", [this.snapshot.hydration()]);
  }

  private broadcast(text: string): void {
    for (const client of this.clients) this.send(client, text);
  }

  private send(client: Client, text: string): void {
    const { res } = client;
    if (res.destroyed || res.writableEnded) return void this.clients.delete(client);
    res.write(text);
    if (res.writableLength > client.limit) {
      this.cut++;
      this.clients.delete(client);
      res.destroy();
    }
  }
}

/** One SSE event: its id is the last change it carries, its data one line of JSON. */
function frame(event: string, events: readonly DeltaEvent[]): string {
  const id = events.at(-1)?.eventId ?? 0;
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify({ events })}\n\n`;
}
