// Reads a JWT's `exp` claim (without checking the signature: the server does that) so the
// client can refresh the token before the server closes the connection with 4009.

function base64UrlDecode(text: string): string {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/");
  const full = padded + "=".repeat((4 - (padded.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(full), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The token's expiry in ms since the epoch, or undefined when it has none or is unreadable. */
export function tokenExpiryMs(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(base64UrlDecode(parts[1] ?? ""));
    if (typeof claims !== "object" || claims === null) return undefined;
    const exp = (claims as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
