import { request } from "undici";

/** A minimal SSE reader over undici: events in order, comment lines counted. */
export async function openStream(url: string, token: string, lastEventId?: string) {
  const controller = new AbortController();
  const res = await request(`${url}/api/client/streaming`, {
    headers: { authorization: token, ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
    signal: controller.signal,
  });
  if (res.statusCode !== 200 || !String(res.headers["content-type"]).includes("text/event-stream"))
    throw new Error(`not an event stream: HTTP ${res.statusCode} ${res.headers["content-type"]}`);
  const queue: { event: string; id: string; data: string }[] = [];
  const waiting: (() => void)[] = [];
  let comments = 0;
  let buffer = "";
  res.body.setEncoding("utf8");
  res.body.on("data", (chunk: string) => {
    buffer += chunk;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) comments++;
        else {
          const at = line.indexOf(": ");
          fields[line.slice(0, at)] = line.slice(at + 2);
        }
      }
      if (fields.event) queue.push({ event: fields.event, id: fields.id ?? "", data: fields.data ?? "" });
      waiting.shift()?.();
      end = buffer.indexOf("\n\n");
    }
  });
  res.body.on("error", () => {});
  return {
    async next() {
      while (queue.length === 0) await new Promise<void>((r) => waiting.push(r));
      return queue.shift()!;
    },
    comments: () => comments,
    close: () => controller.abort(),
  };
}
