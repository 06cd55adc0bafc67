/**
 * Adds the router's Set-Cookie (a freshly assigned sticky key) to a response's flat header list.
 * Upstream Set-Cookie headers stay as they are; if the application itself sets the same cookie
 * (it names its users in the service's sticky cookie), its value wins and the router's is left out.
 */
export function appendStickyCookie(headers: string[], setCookie: string): void {
  const prefix = setCookie.slice(0, setCookie.indexOf("=") + 1);
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (
      name.length === 10 &&
      name.toLowerCase() === "set-cookie" &&
      headers[i + 1]!.trimStart().startsWith(prefix)
    )
      return;
  }
  headers.push("set-cookie", setCookie);
}
