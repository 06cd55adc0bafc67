import { type Agent, get } from "node:http";
import { WebSocket } from "ws";

/** One answer, as a keep-alive client sees it. */
export interface Answer {
  status: number;
  /** The `Connection` header ("close" tells the client not to reuse the connection). */
  connection: string | undefined;
  body: string;
  /** When the answer was complete (epoch ms). */
  at: number;
}

/** A GET on `agent` (keep-alive), read to its end; rejects on a reset or a refused connection. */
export function httpGet(url: string, agent: Agent | false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("error", reject);
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body, at: Date.now() }),
      );
    });
    req.on("error", reject);
  });
}

/** WebSocket clients, each recording how and when it was closed. */
export interface SocketClients {
  sockets: WebSocket[];
  closes: { code: number; reason: string; at: number }[];
  /** Resolves when every socket has closed. */
  allClosed: Promise<void>;
}

/** Opens `n` WebSockets to `url`; resolves when all are open. */
export async function openClients(url: string, n: number): Promise<SocketClients> {
  const closes: SocketClients["closes"] = [];
  const sockets = Array.from({ length: n }, () => new WebSocket(url));
  const allClosed = Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) =>
          ws.on("close", (code, reason) => {
            closes.push({ code, reason: reason.toString(), at: Date.now() });
            resolve();
          }),
        ),
    ),
  ).then(() => undefined);
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve, reject) => {
          ws.once("open", () => resolve());
          ws.once("error", reject);
        }),
    ),
  );
  return { sockets, closes, allClosed };
}
