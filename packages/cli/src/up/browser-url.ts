import { hostname } from "node:os";

/** Addresses that mean "every interface" to listen on, and nothing a browser can open. */
const WILDCARDS = new Set(["0.0.0.0", "[::]", "[::0]", "[0:0:0:0:0:0:0:0]"]);

/**
 * The API's URL as a browser can open it, for the dashboard's login link: an API listening on
 * every address (`--api-host 0.0.0.0` or `::`) is reached on this machine at 127.0.0.1 (Node's
 * `::` takes IPv4 too), and from elsewhere by the machine's name, which `note` says.
 */
export function browserUrl(apiUrl: string, machine: string = hostname()): { url: string; note?: string } {
  const u = new URL(apiUrl);
  if (!WILDCARDS.has(u.hostname)) return { url: apiUrl };
  const listening = u.hostname;
  u.hostname = "127.0.0.1";
  const url = u.toString().replace(/\/$/, "");
  u.hostname = machine;
  return {
    url,
    note: `the API listens on every address (${listening}): from another machine, open the same link with this machine's name or address instead of 127.0.0.1 (${u.toString().replace(/\/$/, "")}/#login=...)`,
  };
}
