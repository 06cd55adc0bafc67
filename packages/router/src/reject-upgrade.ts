import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { VERSION_PATTERN } from "./config-schema.js";

/**
 * Answers an upgrade request with a plain-text error and closes the connection. The response is
 * written by hand (the socket left Node's HTTP server), so only values known to be safe in a
 * header go into the head: the version is checked against the config's own rule, everything else
 * from outside goes in the body.
 */
export function rejectUpgrade(
  socket: Duplex,
  status: number,
  message: string,
  version?: string,
  /** The application's own answer to relay instead of `message` (its content type checked, its size bounded). */
  relayed?: { contentType: string; body: Buffer },
): void {
  if (socket.destroyed || !socket.writable) return;
  const body = relayed?.body ?? Buffer.from(`${message}\n`);
  const contentType =
    relayed && SAFE_CONTENT_TYPE.test(relayed.contentType)
      ? relayed.contentType
      : "text/plain; charset=utf-8";
  const versionHeader =
    version !== undefined && VERSION_PATTERN.test(version) ? `x-baton-version: ${version}\r\n` : "";
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\nconnection: close\r\n` +
      `content-type: ${contentType}\r\n${versionHeader}` +
      (status === 503 ? "retry-after: 1\r\n" : "") +
      `content-length: ${body.length}\r\n\r\n`,
  );
  socket.end(body);
}

/** A content type that is safe to copy into a hand-written head: no CR, LF or other controls. */
const SAFE_CONTENT_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;\s*[\w!#$&^.+-]+=("[^"\r\n]*"|[\w!#$&^.+-]+))*$/;
