import type { IncomingMessage } from "node:http";

/** What `bufferBody` read: the whole body (`complete`), or its first bytes with the rest unread. */
export interface BufferedBody {
  chunks: Buffer[];
  length: number;
  complete: boolean;
}

/**
 * Reads the start of a request body before the exchange takes an upstream connection (nginx's
 * proxy_request_buffering, bounded by `limit`). A body that fits is sent to the instance in one
 * go, so a client trickling a small upload never holds a pooled connection; a larger one is
 * paused here with its first bytes kept, and streams on once a connection is granted.
 * Returns a function that stops reading (the client went away).
 */
export function bufferBody(
  req: IncomingMessage,
  limit: number,
  done: (body: BufferedBody) => void,
): () => void {
  const chunks: Buffer[] = [];
  let length = 0;
  let finished = false;
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    if (length > limit) finish(false);
  };
  const onEnd = () => finish(true);
  // The exchange hears about an aborted client from its response's "close"; this only keeps an
  // aborted body from being an unhandled "error".
  const onError = () => cleanup();
  const cleanup = () => {
    finished = true;
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
  };
  const finish = (complete: boolean) => {
    if (finished) return;
    if (!complete) req.pause(); // the rest waits for the upstream connection
    cleanup();
    // Errors after this point are the upstream pump's to handle; until it attaches, ignore them.
    if (!complete) req.once("error", () => {});
    done({ chunks, length, complete });
  };
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
  return cleanup;
}
