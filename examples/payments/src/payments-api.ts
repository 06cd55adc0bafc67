/**
 * The payments API's two versions, Stripe-style (`apiVersioning` from @baton/runtime): handlers
 * are written against the newest model, and each older version is one change that brings its
 * requests up and takes responses back down.
 *
 *   v1  POST /payments {amount, currency, customer_id}   → {id, status, amount, currency, customer_id, flow}
 *   v2  POST /payments {amount: {value, currency}, customer: {id, email}}
 *                                                        → {id, status, amount: {value, currency}, customer: {id, email}, flow}
 *
 * `POST /checkout` (the logged-in user pays) and `GET /payments/:id` answer the same shapes.
 */
import { type ApiChange, apiVersioning } from "@baton/runtime";

/** The newest (v2) request model. */
export interface PaymentRequest {
  amount: { value: number; currency: string };
  customer?: { id: string; email: string | null };
}

/** The newest (v2) payment. */
export interface Payment {
  id: string;
  status: "succeeded";
  amount: { value: number; currency: string };
  customer: { id: string; email: string | null };
  /** Which checkout made it: "classic", or "one-click" (the new checkout, behind the flag `new-checkout`). */
  flow: string;
}

export interface PaymentV1 {
  id: string;
  status: "succeeded";
  amount: number;
  currency: string;
  customer_id: string;
  flow: string;
}

/** v1 → v2: amount becomes {value, currency}; customer_id becomes customer {id, email}. */
export const paymentsV2: ApiChange = {
  version: "v2",
  description: "amount becomes {value, currency}; customer_id becomes customer {id, email}",
  routes: ["POST /payments", "GET /payments/:id", "POST /checkout"],
  request: (p: { amount?: unknown; currency?: unknown; customer_id?: unknown }): PaymentRequest => {
    // Only v1's shape is known here: a body that is not one is the client's error (a 400).
    if (typeof p?.amount !== "number" || typeof p.currency !== "string")
      throw new Error("amount (a number) and currency are required (v1: {amount, currency, customer_id})");
    return {
      amount: { value: p.amount, currency: p.currency },
      ...(typeof p.customer_id === "string" ? { customer: { id: p.customer_id, email: null } } : {}),
    };
  },
  response: ({ amount, customer, ...rest }: Payment): PaymentV1 => ({
    ...rest,
    amount: amount.value,
    currency: amount.currency,
    customer_id: customer.id,
  }),
};

/**
 * The API of one release: release 1's code knows v1 only (its model is v1's: `toModel` and
 * `fromModel` are the change's own functions); release 2's serves v1 and v2, written against v2.
 */
export function paymentsApi(release: number) {
  const api =
    release >= 2
      ? apiVersioning({
          name: "payments",
          versions: ["v1", "v2"],
          changes: [paymentsV2],
          pathPrefix: "/api",
          clientId: (req) => req.headers["x-client-id"]?.toString(),
        })
      : apiVersioning({
          name: "payments",
          versions: ["v1"],
          pathPrefix: "/api",
          clientId: (req) => req.headers["x-client-id"]?.toString(),
        });
  const ctx = { version: "v1", route: "" } as never;
  return {
    api,
    /** A request body in this release's model, as the handlers' newest model. */
    toModel: (body: unknown): PaymentRequest =>
      release >= 2 ? (body as PaymentRequest) : (paymentsV2.request!(body, ctx) as PaymentRequest),
    /** A payment in the newest model, as this release's model. */
    fromModel: (payment: Payment): unknown => (release >= 2 ? payment : paymentsV2.response!(payment, ctx)),
  };
}
