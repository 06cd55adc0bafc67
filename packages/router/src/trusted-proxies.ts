import { CidrSet } from "./cidr-set.js";

/**
 * The proxies (ingress, load balancer) whose X-Forwarded-For and X-Forwarded-Proto the router
 * believes. From anyone else these headers are replaced: otherwise any client could name its own
 * address (and so its per-address limit and its address-mode bucket) or claim https.
 * Replaced whole on a config reload; the proxies hold this object, so they see the new list.
 */
export class TrustedProxies {
  private set: CidrSet;

  constructor(entries: readonly string[]) {
    this.set = new CidrSet(entries);
  }

  update(entries: readonly string[]): void {
    this.set = new CidrSet(entries);
  }

  /** Whether the direct peer's forwarding headers are believed (never, with an empty list). */
  trusts(peer: string): boolean {
    return this.set.size > 0 && this.set.has(peer);
  }

  /**
   * The client behind a trusted `peer`: the right-most address of the X-Forwarded-For chain that is
   * not itself a trusted proxy (addresses to its left were written by the client and prove
   * nothing). When every hop is trusted, the left-most one.
   */
  clientAddress(xff: string, peer: string): string {
    let end = xff.length;
    let leftmost = peer;
    while (end > 0) {
      const comma = xff.lastIndexOf(",", end - 1);
      const hop = bareAddress(xff.slice(comma + 1, end).trim());
      end = comma < 0 ? 0 : comma;
      if (hop === "") continue;
      if (!this.set.has(hop)) return hop;
      leftmost = hop;
    }
    return leftmost;
  }
}

/** "203.0.113.7:5123" and "[2001:db8::1]:443" (some proxies append the port) without the port. */
function bareAddress(hop: string): string {
  if (hop.charCodeAt(0) === 91) {
    const close = hop.indexOf("]");
    return close > 0 ? hop.slice(1, close) : hop;
  }
  const colon = hop.indexOf(":");
  return colon > 0 && hop.indexOf(".") > 0 && hop.indexOf(":", colon + 1) < 0 ? hop.slice(0, colon) : hop;
}
