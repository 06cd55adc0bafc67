import type { ServerResponse } from "node:http";

/** A short text answer from the router itself; a cut when part of another answer already went out. */
export function plainResponse(
  res: ServerResponse,
  status: number,
  version: string | undefined,
  body: string,
  close = false,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  };
  if (version) headers["x-baton-version"] = version;
  if (status === 503 || status === 429) headers["retry-after"] = "1";
  if (close) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(body);
}
