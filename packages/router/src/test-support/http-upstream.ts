import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A real in-process HTTP instance on a loopback port picked by the OS. */
export interface HttpUpstream {
  address: string;
  /** Request headers of every request that reached it, in order. */
  seen: IncomingHttpHeaders[];
  server: ReturnType<typeof createServer>;
  close(): Promise<void>;
}

/** Answers every request with `answer` (default: 200 "ok"), after recording its headers. */
export async function startHttpUpstream(
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end("ok"),
): Promise<HttpUpstream> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on("end", () => answer(req, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
