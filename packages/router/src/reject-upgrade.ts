import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { VERSION_PATTERN } from "./config-schema.js";

/**
 * Answers an upgrade request with a plain-text error and closes the connection. The response is
 * written by hand (the socket left Node's HTTP server), so only values known to be safe in a
 * header go into the head: the version is checked against the config's own rule, everything else
 * from outside goes in the body.
 */
export function rejectUpgrade(socket: Duplex, status: number, message: string, version?: string): void {
  if (socket.destroyed || !socket.writable) return;
  const body = `${message}\n`;
  const versionHeader =
    version !== undefined && VERSION_PATTERN.test(version) ? `x-baton-version: ${version}\r\n` : "";
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\nconnection: close\r\n` +
      `content-type: text/plain; charset=utf-8\r\n${versionHeader}` +
      (status === 503 ? "retry-after: 1\r\n" : "") +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
