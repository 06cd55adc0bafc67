import { createHash, timingSafeEqual } from "node:crypto";

/** SHA-256 (hex) of an API token: all the API keeps of it. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Whether an `Authorization` header carries the token whose digest is `tokenSha256`; without a
 * digest every request is let in (the API then listens on loopback only). Digests of equal length
 * are compared, in constant time: neither the token's length nor its prefix can be timed.
 */
export function bearerCheck(tokenSha256: string | undefined): (authorization: string | undefined) => boolean {
  if (!tokenSha256) return () => true;
  // A digest of another length would make every comparison throw: refused when the API starts.
  if (!/^[0-9a-f]{64}$/i.test(tokenSha256)) throw new TypeError("tokenSha256 must be 64 hex digits");
  const expected = Buffer.from(tokenSha256, "hex");
  return (authorization) => {
    const m = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
    return !!m && timingSafeEqual(Buffer.from(hashToken(m[1]!.trim()), "hex"), expected);
  };
}
