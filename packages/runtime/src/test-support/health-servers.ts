import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A real HTTP server on a free loopback port, with its URL and a way to close it. */
export interface TestServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Listens with `handler` on 127.0.0.1, any port. */
export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/**
 * A dependency to check: answers `status` (changeable) after `delayMs`, and counts the requests
 * it gets, which is how many times a check really ran.
 */
export async function dependency(
  status = 200,
  delayMs = 0,
): Promise<TestServer & { hits: number; status: number; delayMs: number }> {
  const dep = {
    hits: 0,
    status,
    delayMs,
  } as TestServer & { hits: number; status: number; delayMs: number };
  const s = await listen((_req, res) => {
    dep.hits++;
    setTimeout(() => {
      res.statusCode = dep.status;
      res.end();
    }, dep.delayMs);
  });
  return Object.assign(dep, s);
}
