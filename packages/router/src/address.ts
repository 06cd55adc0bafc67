/** A host and port to listen on or connect to. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses "127.0.0.1:8080", "[::1]:8080", "localhost:8080", ":8080" or "8080".
 * `defaultHost` fills in a missing host. Returns undefined for anything else.
 */
export function parseHostPort(text: string, defaultHost: string): HostPort | undefined {
  const s = String(text).trim();
  let host: string;
  let portText: string;
  if (/^\d+$/.test(s)) {
    host = defaultHost;
    portText = s;
  } else if (s.startsWith("[")) {
    const end = s.indexOf("]:");
    if (end < 0) return undefined;
    host = s.slice(1, end);
    portText = s.slice(end + 2);
  } else {
    const colon = s.lastIndexOf(":");
    if (colon < 0 || s.indexOf(":") !== colon) return undefined;
    host = s.slice(0, colon) || defaultHost;
    portText = s.slice(colon + 1);
  }
  if (!/^\d+$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 0 || port > 65535 || !/^[A-Za-z0-9.:_-]+$/.test(host)) return undefined;
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
