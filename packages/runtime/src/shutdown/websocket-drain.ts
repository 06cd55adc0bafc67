/** The part of a `ws` WebSocket that shutdown uses (typed here, so that `ws` is not a dependency). */
export interface DrainableWebSocket {
  readonly readyState: number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  once(event: "close", listener: () => void): unknown;
}

/** A `ws` WebSocketServer (with client tracking, the default), or anything that lists its sockets. */
export interface WebSocketServerLike {
  readonly clients: Iterable<DrainableWebSocket>;
}

/** How WebSockets are closed during a shutdown. */
export interface WebSocketDrainOptions {
  /** The servers whose clients are closed. */
  servers: WebSocketServerLike[];
  /**
   * How long after the server stops accepting connections the first close frame is sent, so that
   * a message being exchanged can finish. Default 0.
   */
  graceMs?: number;
  /** Sockets closed together. Default 50. */
  batchSize?: number;
  /**
   * Time between batches, so that clients do not all reconnect at once. Shortened when the
   * batches would not otherwise all be sent before the drain deadline. Default 50.
   */
  batchIntervalMs?: number;
  /** Each interval varies by up to this fraction either way. Default 0.5. */
  jitter?: number;
  /**
   * How long a socket has to finish the closing handshake before it is terminated (its client
   * then sees 1006). Default 2000.
   */
  closeTimeoutMs?: number;
  /** The close reason sent with 1001. Default "server shutting down". */
  reason?: string;
}

/** How the WebSockets ended. */
export interface WebSocketDrainResult {
  /** Closed with 1001 and a completed closing handshake. */
  closed: number;
  /** Terminated: the handshake did not finish within `closeTimeoutMs`, or the deadline passed. */
  terminated: number;
}

const OPEN = 1;
const CLOSING = 2;
/** RFC 6455 §7.4.1: the endpoint is going away (a server going down). */
const GOING_AWAY = 1001;

/** The WebSockets of `servers` still open or closing. */
export function openWebSockets(servers: WebSocketServerLike[]): number {
  let n = 0;
  for (const s of servers) for (const ws of s.clients) if (ws.readyState <= CLOSING) n++;
  return n;
}

/**
 * Closes every WebSocket of `opts.servers` with 1001, `batchSize` at a time with jittered pauses
 * between batches, each terminated if its closing handshake does not finish in time. Clients that
 * connect while it runs are closed too. Resolves when all are gone, or at `deadline` (epoch ms),
 * when the rest are terminated.
 */
export async function drainWebSockets(
  opts: WebSocketDrainOptions,
  deadline: number,
): Promise<WebSocketDrainResult> {
  const batchSize = Math.max(1, opts.batchSize ?? 50);
  const closeTimeoutMs = opts.closeTimeoutMs ?? 2000;
  const jitter = Math.min(Math.max(opts.jitter ?? 0.5, 0), 1);
  const result: WebSocketDrainResult = { closed: 0, terminated: 0 };
  const asked = new Set<DrainableWebSocket>();
  const ends: Promise<void>[] = [];
  // No new connection comes once the server stops accepting: with none open, nothing to wait for.
  if (openWebSockets(opts.servers) === 0) return result;
  if ((opts.graceMs ?? 0) > 0) await sleep(Math.min(opts.graceMs ?? 0, deadline - Date.now()));

  const pending = () => {
    const out: DrainableWebSocket[] = [];
    for (const s of opts.servers)
      for (const ws of s.clients) if (ws.readyState === OPEN && !asked.has(ws)) out.push(ws);
    return out;
  };
  // Bounded: every round asks at least one socket, and the loop ends at the deadline.
  for (let next = pending(); next.length > 0 && Date.now() < deadline; next = pending()) {
    for (const ws of next.slice(0, batchSize)) {
      asked.add(ws);
      ends.push(closeOne(ws, Math.min(closeTimeoutMs, Math.max(0, deadline - Date.now())), result));
      ws.close(GOING_AWAY, opts.reason ?? "server shutting down");
    }
    const rest = next.length - batchSize;
    if (rest <= 0) break;
    // The batches left must all be sent while there is still time for their handshakes.
    const room = deadline - Date.now() - closeTimeoutMs;
    const interval = Math.min(opts.batchIntervalMs ?? 50, room / Math.ceil(rest / batchSize));
    if (interval > 0) await sleep(interval * (1 + jitter * (2 * Math.random() - 1)));
  }
  await Promise.all(ends);
  // Anything left (opened after the deadline, or never asked) is cut.
  for (const s of opts.servers)
    for (const ws of s.clients)
      if (ws.readyState <= CLOSING && !asked.has(ws)) {
        ws.terminate();
        result.terminated++;
      }
  return result;
}

/** Resolves when `ws` has closed; terminates it after `timeoutMs` if the handshake is not done. */
function closeOne(ws: DrainableWebSocket, timeoutMs: number, result: WebSocketDrainResult): Promise<void> {
  return new Promise((resolve) => {
    let cut = false;
    const timer = setTimeout(() => {
      cut = true;
      ws.terminate();
    }, timeoutMs);
    ws.once("close", () => {
      clearTimeout(timer);
      if (cut) result.terminated++;
      else result.closed++;
      resolve();
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
