import type { WebSocket } from "ws";

/**
 * The part of `ws`'s Receiver that holds incoming bytes until they form a whole message: raw bytes
 * not yet parsed (a frame whose payload has not all arrived) and the frames of a fragmented
 * message received so far. Private to `ws` (8.x), so read defensively; the budget test in
 * attack-regressions.test.ts fails if a `ws` upgrade renames them.
 */
interface ReceiverInternals {
  _bufferedBytes?: unknown;
  _messageLength?: unknown;
}

/** Bytes one WebSocket holds in the router: incoming, not yet a message, and queued to send. */
export function heldBytes(ws: WebSocket): number {
  const r = (ws as unknown as { _receiver?: ReceiverInternals })._receiver;
  const raw = typeof r?._bufferedBytes === "number" ? r._bufferedBytes : 0;
  const fragments = typeof r?._messageLength === "number" ? r._messageLength : 0;
  return raw + fragments + ws.bufferedAmount;
}

/** One session's share of the budget. */
export interface BudgetShare {
  /** Re-measures the session; calls the overflow handler (once) if its growth passed the cap. */
  update(): void;
  /** Gives the session's bytes back (it closed). */
  release(): void;
}

/**
 * One cap on the bytes that all proxied WebSockets hold in the router together. Each message is
 * already capped (`ws`'s maxPayload); this caps their sum, so that many connections each sending a
 * big message slowly cannot grow the process without bound. A session is re-measured whenever one
 * of its sockets delivers data or a message is queued or flushed; the session whose growth takes
 * the total over the cap is the one shed (the others keep what they hold).
 */
export class WebSocketBudget {
  private total = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes held now, across every session. */
  get used(): number {
    return this.total;
  }

  share(legs: readonly WebSocket[], overflow: () => void): BudgetShare {
    let held = 0;
    let released = false;
    let shed = false;
    return {
      update: () => {
        if (released) return;
        let now = 0;
        for (const ws of legs) now += heldBytes(ws);
        const grew = now > held;
        this.total += now - held;
        held = now;
        if (grew && !shed && this.total > this.maxBytes) {
          shed = true;
          overflow();
        }
      },
      release: () => {
        if (released) return;
        released = true;
        this.total -= held;
        held = 0;
      },
    };
  }
}
