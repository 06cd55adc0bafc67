// The seed design's payments example: v1 `{amount, currency, customer_id}` and v2
// `{amount: {value, currency}, customer: {id, email}}`, one handler written against v2.
import type { Registry } from "prom-client";
import { type ApiChange, type ApiVersioningOptions, apiVersioning } from "../versioning/index.js";

/** The canonical (v2) request. A v1 client never sent an email: it arrives as null. */
export interface PaymentRequest {
  amount: { value: number; currency: string };
  customer: { id: string; email: string | null };
}
export interface Payment extends PaymentRequest {
  id: string;
  status: "succeeded";
}
export interface PaymentRequestV1 {
  amount: number;
  currency: string;
  customer_id: string;
}
export interface PaymentV1 {
  id: string;
  status: "succeeded";
  amount: number;
  currency: string;
  customer_id: string;
}

/** The whole v1 → v2 change, both ways. */
export const paymentsV2: ApiChange = {
  version: "v2",
  description: "amount becomes {value, currency}; customer_id becomes customer {id, email}",
  routes: ["POST /payments", "GET /payments/:id"],
  request: (p: PaymentRequestV1): PaymentRequest => {
    // v1's shape is known here only: a body that is not one is the client's error (a 400).
    if (typeof p?.amount !== "number")
      throw new Error("amount must be a number (v1: {amount, currency, customer_id})");
    return {
      amount: { value: p.amount, currency: p.currency },
      customer: { id: p.customer_id, email: null },
    };
  },
  response: ({ amount, customer, ...rest }: Payment): PaymentV1 => ({
    ...rest,
    amount: amount.value,
    currency: amount.currency,
    customer_id: customer.id,
  }),
};

export const SUNSET = "2027-06-30T00:00:00Z";

/** The payments API: v1 deprecated, path versions under /api, clients by `x-client-id`, acme pinned to v1. */
export function paymentsApi(registry: Registry, over: Partial<ApiVersioningOptions> = {}) {
  return apiVersioning({
    name: "payments",
    versions: ["v1", "v2"],
    changes: [paymentsV2],
    pathPrefix: "/api",
    clientId: (req) => req.headers["x-client-id"]?.toString(),
    pinnedVersion: (client) => (client === "acme" ? "v1" : undefined),
    retire: {
      v1: { deprecatedAt: "2026-01-01T00:00:00Z", sunsetAt: SUNSET, link: "https://docs.example/v2" },
    },
    registry,
    onError: () => {},
    ...over,
  });
}

/** The one handler, in the canonical model, whatever the framework. */
export class PaymentStore {
  private readonly payments = new Map<string, Payment>();

  create(req: PaymentRequest): Payment | { error: string } {
    if (typeof req?.amount?.value !== "number" || !req.customer?.id)
      return { error: "amount.value (a number) and customer.id are required" };
    const payment: Payment = { id: `pay_${this.payments.size + 1}`, status: "succeeded", ...req };
    this.payments.set(payment.id, payment);
    return payment;
  }

  get(id: string): Payment | undefined {
    return this.payments.get(id);
  }
}
