/**
 * IP addresses and CIDR ranges, with the rules of the `ip-address` package that unleash-client uses:
 * IPv4 without leading zeros and an optional `/0`..`/32`; IPv6 with `::`, an embedded IPv4 tail, an
 * optional `/0`..`/128` and a `%zone` (ignored).
 */
export interface IpRange {
  family: 4 | 6;
  /** The address as an unsigned integer of the family's width. */
  value: bigint;
  prefix: number;
}

const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function parseIpv4(input: string): IpRange | undefined {
  let address = input;
  let prefix = 32;
  const subnet = /\/(\d{1,2})$/.exec(address);
  if (subnet) {
    prefix = Number(subnet[1]);
    if (prefix > 32) return undefined;
    address = address.slice(0, subnet.index);
  }
  if (address.length > 15 || address.split(".").some((group) => /^0\d/.test(group))) return undefined;
  const match = IPV4.exec(address);
  if (!match) return undefined;
  let value = 0n;
  for (let i = 1; i <= 4; i++) value = (value << 8n) | BigInt(match[i]!);
  return { family: 4, value, prefix };
}

function parseGroups(text: string): number[] | undefined {
  if (text === "") return [];
  const groups: number[] = [];
  const parts = text.split(":");
  for (const [index, part] of parts.entries()) {
    if (index === parts.length - 1 && part.includes(".")) {
      if (part.includes("/")) return undefined;
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push(Number(v4.value >> 16n), Number(v4.value & 0xffffn));
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      groups.push(Number.parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

export function parseIpv6(input: string): IpRange | undefined {
  let address = input;
  const zone = address.indexOf("%");
  let prefix = 128;
  const subnet = /\/(\d{1,3})(?=%|$)/.exec(address);
  if (subnet) {
    prefix = Number(subnet[1]);
    if (prefix > 128) return undefined;
  }
  address = address.slice(0, subnet ? subnet.index : zone >= 0 ? zone : address.length);
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let value = 0n;
  for (const group of [...head, ...new Array<number>(missing).fill(0), ...tail]) {
    value = (value << 16n) | BigInt(group);
  }
  return { family: 6, value, prefix };
}

export function parseIp(input: string): IpRange | undefined {
  return parseIpv4(input) ?? parseIpv6(input);
}

/** Whether `address` (itself possibly a range) lies within `range`: same family, same leading bits. */
export function isInRange(address: IpRange, range: IpRange): boolean {
  if (address.family !== range.family || address.prefix < range.prefix) return false;
  const shift = BigInt((address.family === 4 ? 32 : 128) - range.prefix);
  return address.value >> shift === range.value >> shift;
}

/** Same address, whatever the prefixes (ip-address's `correctForm()` comparison). */
export function isSameAddress(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.value === b.value;
}
