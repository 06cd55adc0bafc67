import { mappedIPv4, parseIPv4, parseIPv6 } from "./ip-address.js";

interface V6Range {
  groups: Uint16Array;
  prefix: number;
}

/** Reused by `has`: the request path parses addresses without allocating. */
const scratch = new Uint16Array(8);
const EXAMPLES = "use an address or a CIDR range, e.g. 10.0.0.0/8, 127.0.0.1, fd00::/8";

/**
 * What is wrong with a trusted-proxy entry ("10.0.0.0/8", "127.0.0.1", "fd00::/8", "::1"), or
 * undefined when it is a valid address or range.
 */
export function cidrProblem(entry: string): string | undefined {
  const slash = entry.indexOf("/");
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const v4 = parseIPv4(address) >= 0;
  if (!v4 && (address.includes("%") || !parseIPv6(address, new Uint16Array(8)))) {
    return `${JSON.stringify(entry)} is not an IP address or CIDR range: ${EXAMPLES}`;
  }
  if (slash < 0) return undefined;
  const bits = entry.slice(slash + 1);
  const max = v4 ? 32 : 128;
  // No leading zeros: "/08" is refused like an address "01.2.3.4" is.
  if (!/^(0|[1-9]\d{0,2})$/.test(bits) || Number(bits) > max) {
    return `${JSON.stringify(entry)} has an invalid prefix length "/${bits}" (0-${max} for IPv${v4 ? 4 : 6}): ${EXAMPLES}`;
  }
  return undefined;
}

/** A set of IPv4 and IPv6 ranges; an IPv4-mapped IPv6 address matches the IPv4 ranges. */
export class CidrSet {
  private readonly v4Nets: number[] = [];
  private readonly v4Masks: number[] = [];
  private readonly v6: V6Range[] = [];

  /** `entries` must have passed `cidrProblem` (the config schema checks them). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const slash = entry.indexOf("/");
      const address = slash < 0 ? entry : entry.slice(0, slash);
      const v4 = parseIPv4(address);
      if (v4 >= 0) {
        const bits = slash < 0 ? 32 : Number(entry.slice(slash + 1));
        const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
        this.v4Nets.push((v4 & mask) >>> 0);
        this.v4Masks.push(mask);
        continue;
      }
      const groups = new Uint16Array(8);
      if (!parseIPv6(address, groups)) throw new Error(`invalid trusted proxy ${JSON.stringify(entry)}`);
      const prefix = slash < 0 ? 128 : Number(entry.slice(slash + 1));
      const mapped = mappedIPv4(groups);
      if (mapped >= 0 && prefix >= 96) {
        // ::ffff:10.0.0.0/104 is 10.0.0.0/8: kept once, as IPv4.
        const mask = prefix === 96 ? 0 : (0xffffffff << (128 - prefix)) >>> 0;
        this.v4Nets.push((mapped & mask) >>> 0);
        this.v4Masks.push(mask);
        continue;
      }
      this.v6.push({ groups, prefix });
    }
  }

  get size(): number {
    return this.v4Nets.length + this.v6.length;
  }

  /** Whether `address` (as Node reports a peer, or as found in X-Forwarded-For) is in the set. */
  has(address: string): boolean {
    const v4 = parseIPv4(address);
    if (v4 >= 0) return this.hasV4(v4);
    if (!parseIPv6(address, scratch)) return false;
    const mapped = mappedIPv4(scratch);
    // An IPv4-mapped peer is in the IPv4 ranges, and in IPv6 ranges that cover ::ffff:0:0/96 (::/0).
    if (mapped >= 0 && this.hasV4(mapped)) return true;
    for (const r of this.v6) if (inV6Range(scratch, r)) return true;
    return false;
  }

  private hasV4(ip: number): boolean {
    const nets = this.v4Nets;
    const masks = this.v4Masks;
    for (let k = 0; k < nets.length; k++) if ((ip & masks[k]!) >>> 0 === nets[k]) return true;
    return false;
  }
}

function inV6Range(groups: Uint16Array, range: V6Range): boolean {
  let bits = range.prefix;
  for (let k = 0; k < 8 && bits > 0; k++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((groups[k]! & mask) !== (range.groups[k]! & mask)) return false;
  }
  return true;
}
