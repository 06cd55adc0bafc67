import type { IncomingMessage, ServerResponse } from "node:http";
import type { DeltaEvent } from "@baton/flags";
import type { FlagSnapshot } from "./flag-snapshot.js";

export interface FlagStreamOptions {
  /**
   * A comment line this often, so that proxies and the SDK's read timeout (60 s) keep the stream; a
   * client that has taken nothing of what waits for it over a whole period is cut (it does not read).
   */
  heartbeatMs?: number;
  /**
   * Bytes a connection may have waiting to be sent beyond its first event; a client that reads
   * slower than flags change is cut (it reconnects and gets a fresh state) rather than buffered for.
   */
  maxBufferBytes?: number;
  /** Delta events kept for clients that reconnect with `Last-Event-ID`; older ones get a hydration. */
  retainedEvents?: number;
  /** Bytes of those events kept at most (a few large flags changed many times must not pile up). */
  retainedBytes?: number;
}

interface Client {
  res: ServerResponse;
  /** writableLength above which the client is cut. */
  limit: number;
  /** Bytes given to the response so far. */
  sent: number;
  /** Bytes of them gone to the network at the last heartbeat, when some were still waiting then. */
  flushedAtBeat: number | undefined;
}

/** A delta event as sent: its JSON made once, when it was published. */
interface SentEvent {
  eventId: number;
  json: string;
}

/**
 * A resumed stream's first frame is made for that one client; past this size the hydration (one
 * buffer shared by every client) is sent instead, so that what a connection holds on its own stays
 * small however many clients connect.
 */
const MAX_RESUME_BYTES = 64 * 1024;
const KEEP_ALIVE = Buffer.from(": keep-alive\n\n");
const UP_TO_DATE = Buffer.from(": up to date\n\n");

/**
 * `GET /api/client/streaming`: server-sent events as unleash-client's streaming mode reads them.
 * A client gets `unleash-connected` with a hydration (the whole state), then `unleash-updated`
 * with delta events as changes commit; each event's `id` is the change id, so a client that
 * reconnects with `Last-Event-ID` gets only what it missed (or nothing, or a hydration when the
 * id is no longer known). Every frame is encoded once and the same buffer written to every
 * client, so a thousand SDKs connecting to a large state cost one copy of it, not a thousand.
 */
export class FlagStream {
  private readonly clients = new Set<Client>();
  private readonly recent: SentEvent[] = [];
  private recentBytes = 0;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly maxBufferBytes: number;
  private readonly retained: number;
  private readonly retainedBytes: number;
  private hydrationFrame: { revision: number; frame: Buffer } | undefined;
  /** Clients cut for reading too slowly (or not at all), since start. */
  cut = 0;

  constructor(
    private readonly snapshot: FlagSnapshot,
    opts: FlagStreamOptions = {},
  ) {
    this.maxBufferBytes = opts.maxBufferBytes ?? 4 * 1024 * 1024;
    this.retained = opts.retainedEvents ?? 1000;
    this.retainedBytes = opts.retainedBytes ?? 16 * 1024 * 1024;
    this.heartbeat = setInterval(() => this.beat(), opts.heartbeatMs ?? 15_000);
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
    const client: Client = {
      res,
      limit: this.maxBufferBytes + first.length,
      sent: 0,
      flushedAtBeat: undefined,
    };
    this.clients.add(client);
    const drop = () => this.clients.delete(client);
    res.on("close", drop);
    req.on("close", drop);
    this.send(client, first);
  }

  /** Sends committed changes, in order, to every client. */
  publish(events: readonly DeltaEvent[]): void {
    if (events.length === 0) return;
    const sent = events.map((event) => ({ eventId: event.eventId, json: JSON.stringify(event) }));
    for (const event of sent) {
      this.recent.push(event);
      this.recentBytes += event.json.length;
    }
    while (
      this.recent.length > this.retained ||
      (this.recentBytes > this.retainedBytes && this.recent.length > 0)
    ) {
      this.recentBytes -= this.recent.shift()!.json.length;
    }
    this.broadcast(Buffer.from(frame("unleash-updated", sent)));
  }

  /** Ends every stream (the API is closing). */
  close(): void {
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.res.end();
    this.clients.clear();
  }

  private firstFrame(lastEventId: string | string[] | undefined): Buffer {
    const last = typeof lastEventId === "string" && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : -1;
    if (last === this.snapshot.changeId) return UP_TO_DATE;
    const oldest = this.recent[0]?.eventId;
    // Resumable when every change after `last` is still retained (ids are contiguous).
    if (last >= 0 && last < this.snapshot.changeId && oldest !== undefined && oldest <= last + 1) {
      const missed = this.recent.filter((e) => e.eventId > last);
      const size = missed.reduce((total, e) => total + e.json.length, 0);
      if (size <= MAX_RESUME_BYTES) return Buffer.from(frame("unleash-updated", missed));
    }
    return this.hydration();
  }

  /** `unleash-connected` with the whole state: made once per state, shared by every client. */
  private hydration(): Buffer {
    const revision = this.snapshot.revision;
    if (this.hydrationFrame?.revision !== revision) {
      const hydration = this.snapshot.hydration();
      const frameText = frame("unleash-connected", [
        { eventId: hydration.eventId, json: JSON.stringify(hydration) },
      ]);
      this.hydrationFrame = { revision, frame: Buffer.from(frameText) };
    }
    return this.hydrationFrame.frame;
  }

  private broadcast(data: Buffer): void {
    for (const client of this.clients) this.send(client, data);
  }

  /**
   * A heartbeat to every client; one that took none of what waited for it over a whole period does
   * not read, and is cut: it would hold its first frame, and everything after it, for as long as it
   * stays connected.
   */
  private beat(): void {
    for (const client of this.clients) {
      const waiting = client.res.writableLength;
      // Bytes that left (less the chunked encoding's few bytes per write, which only lower it).
      const flushed = client.sent - waiting;
      if (waiting > 0 && client.flushedAtBeat !== undefined && flushed <= client.flushedAtBeat) {
        this.cutOff(client);
        continue;
      }
      client.flushedAtBeat = waiting > 0 ? flushed : undefined;
      this.send(client, KEEP_ALIVE);
    }
  }

  private send(client: Client, data: Buffer): void {
    const { res } = client;
    if (res.destroyed || res.writableEnded) return void this.clients.delete(client);
    res.write(data);
    client.sent += data.length;
    if (res.writableLength > client.limit) this.cutOff(client);
  }

  private cutOff(client: Client): void {
    this.cut++;
    this.clients.delete(client);
    client.res.destroy();
  }
}

/** One SSE event: its id is the last change it carries, its data one line of JSON. */
function frame(event: string, events: readonly SentEvent[]): string {
  const id = events.at(-1)?.eventId ?? 0;
  return `event: ${event}\nid: ${id}\ndata: {"events":[${events.map((e) => e.json).join(",")}]}\n\n`;
}
