import { isInRange, parseIpv4 } from "../ip-range.js";
import type { StrategyEvaluator } from "./strategy-evaluator.js";
import { splitList } from "./strategy-evaluator.js";

/**
 * On for the listed addresses (`IPs`): an exact match of the text, or an IPv4 address inside an IPv4
 * range (unleash-client matches IPv6 only exactly here; IN_CIDR constraints handle IPv6 ranges).
 */
export const remoteAddress: StrategyEvaluator = (parameters, context) => {
  if (!parameters.IPs) return false;
  const address = parseIpv4(context.remoteAddress || "");
  return splitList(parameters.IPs).some((entry) => {
    if (entry === context.remoteAddress) return true;
    const range = parseIpv4(entry);
    return address !== undefined && range !== undefined && isInRange(address, range);
  });
};
