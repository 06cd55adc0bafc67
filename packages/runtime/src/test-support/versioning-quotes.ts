// The quotes feed example: quotes.v1 `{symbol, price}`, quotes.v2 `{symbol, price: {amount, currency}, ts}`;
// clients subscribe with v1 `{subscribe: "ACME"}` or v2 `{type: "subscribe", symbols: [...]}`.
import type { ProtocolChange } from "../versioning/index.js";

/** Server messages, canonical (v2). */
export interface Quote {
  type: "quote";
  symbol: string;
  price: { amount: number; currency: string };
  ts: number;
}
/** Client messages, canonical (v2). */
export interface Subscribe {
  type: "subscribe";
  symbols: string[];
}

export const quotesV2: ProtocolChange = {
  version: "quotes.v2",
  description: "price becomes {amount, currency} with a timestamp; subscribe takes a list of symbols",
  fromClient: (m: { subscribe?: unknown }): Subscribe => {
    if (typeof m?.subscribe !== "string") throw new Error('expected {"subscribe": "<symbol>"}');
    return { type: "subscribe", symbols: [m.subscribe] };
  },
  toClient: (q: Quote) =>
    q.type === "quote" ? { type: "quote", symbol: q.symbol, price: q.price.amount } : q,
};

export function quoteOf(symbol: string, amount = 101.5): Quote {
  return { type: "quote", symbol, price: { amount, currency: "USD" }, ts: 1_765_000_000_000 };
}
