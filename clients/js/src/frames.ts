// A server text frame may carry several messages, one JSON object per line
// (docs/PROTOCOL.md, Framing): split before parsing.

export type ServerMessage = { op: string; [key: string]: unknown };

/** The messages of one text frame, in order. Throws on a line that is not a JSON object. */
export function splitFrame(frame: string): ServerMessage[] {
  const out: ServerMessage[] = [];
  for (const line of frame.split("\n")) {
    if (line.trim() === "") continue;
    const value: unknown = JSON.parse(line);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new Error("server frame line is not a JSON object: " + line.slice(0, 80));
    }
    out.push(value as ServerMessage);
  }
  return out;
}
