// The demo page: what a SaaS user sees, live through the edge. Signs in with a development
// token (POST /dev/token, only where the config enables it), then shows who is online in
// the org, a notification bell, a chat room and a document's change feed.
import { connect, type Client, type MessageMeta } from "../src/index.js";

interface Session {
  user: string;
  org: string;
  room: string;
  doc: string;
}

interface Notification {
  id: string;
  title: string;
  type: string;
  unread: boolean;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function mintToken(user: string, org: string): Promise<string> {
  const reply = await fetch("/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user, orgs: [org] }),
  });
  const body = (await reply.json()) as { token?: string; error?: string };
  if (!reply.ok || !body.token) throw new Error(body.error ?? `token endpoint: ${reply.status}`);
  return body.token;
}

function item(text: string, meta = ""): HTMLLIElement {
  const li = document.createElement("li");
  li.textContent = text;
  if (meta) {
    const span = document.createElement("span");
    span.className = "meta";
    span.textContent = meta;
    li.append(span);
  }
  return li;
}

function append(list: HTMLElement, li: HTMLLIElement): void {
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

// Who is online: a snapshot replaces the set, each message sets one user's status.
function showPresence(s: Session, client: Client): void {
  const users = new Map<string, string>();
  const render = () => {
    const list = $("online");
    list.replaceChildren(...[...users].sort().map(([user, status]) => {
      const li = item(user, status === "away" ? "away" : user === s.user ? "you" : "");
      li.dataset.user = user;
      li.dataset.status = status;
      return li;
    }));
  };
  client.subscribe(`org:${s.org}:presence`, (data, meta: MessageMeta) => {
    if (meta.kind === "snapshot") {
      users.clear();
      const all = (data as { users?: Record<string, { status: string }> }).users ?? {};
      for (const [user, v] of Object.entries(all)) users.set(user, v.status);
    } else {
      const change = data as { user: string; status: string };
      if (change.status === "offline") users.delete(change.user);
      else users.set(change.user, change.status);
    }
    render();
  });
  $<HTMLInputElement>("away").onchange = (ev) => {
    const away = (ev.target as HTMLInputElement).checked;
    client.setPresence(away ? "away" : "online").catch((e) => notice(e));
  };
}

function showNotifications(s: Session, client: Client): void {
  const all: Notification[] = [];
  const render = () => {
    const unread = all.filter((n) => n.unread).length;
    const count = $("bell-count");
    count.textContent = String(unread);
    count.toggleAttribute("data-zero", unread === 0);
    $("notifications").replaceChildren(...all.map((n) => {
      const li = item(n.title, n.type);
      li.toggleAttribute("data-unread", n.unread);
      li.onclick = () => {
        n.unread = false;
        render();
      };
      return li;
    }));
  };
  client.subscribe(`user:${s.user}:notifications`, (data) => {
    const d = data as { id?: string; title?: string; type?: string };
    all.unshift({ id: text(d.id), title: text(d.title), type: text(d.type), unread: true });
    render();
  });
  $("bell").removeAttribute("disabled");
  $("bell").onclick = () => $("notifications-panel").scrollIntoView({ behavior: "smooth" });
  $("read-all").onclick = () => {
    for (const n of all) n.unread = false;
    render();
  };
  $("clear-all").onclick = () => {
    all.length = 0;
    render();
  };
}

function showChat(s: Session, client: Client): void {
  client.subscribe(`chat:${s.room}`, (data) => {
    const d = data as { content?: unknown; from?: unknown };
    append($("chat-log"), item(text(d.content), text(d.from)));
  });
  const form = $<HTMLFormElement>("chat-form");
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const input = form.elements.namedItem("text") as HTMLInputElement;
    client.publish(`chat:${s.room}`, { content: input.value }).catch((e) => notice(e));
    input.value = "";
  };
}

function showDocument(s: Session, client: Client): void {
  // The channel skips the author (skip_author: user): our own changes are shown as we make them.
  client.subscribe(`doc:${s.doc}`, (data) => {
    const d = data as { changes?: unknown; by?: unknown };
    append($("doc-feed"), item(text(d.changes), text(d.by)));
  });
  const form = $<HTMLFormElement>("doc-form");
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const input = form.elements.namedItem("text") as HTMLInputElement;
    const change = input.value;
    client.publish(`doc:${s.doc}`, { changes: change }).then(
      () => append($("doc-feed"), item(change, "you")),
      (e) => notice(e),
    );
    input.value = "";
  };
}

function notice(e: unknown): void {
  $("notice").textContent = e instanceof Error ? e.message : String(e);
}

function start(s: Session): Client {
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const client = connect(wsUrl, { getToken: () => mintToken(s.user, s.org) });
  client.on("state", (state) => {
    document.body.dataset.state = state;
    $("state").textContent = state;
    if (state === "connected") $("notice").textContent = "";  // what failed meanwhile is over
  });
  client.on("error", (e) => notice(e));
  client.on("unrecovered", (u) => notice(`${u.channel}: missed messages could not be replayed`));
  $("who").textContent = `${s.user} · org ${s.org}`;
  $("org-name").textContent = s.org;
  $("room-name").textContent = s.room;
  $("doc-name").textContent = s.doc;
  showPresence(s, client);
  showNotifications(s, client);
  showChat(s, client);
  showDocument(s, client);
  return client;
}

const login = $<HTMLFormElement>("login");
login.onsubmit = async (ev) => {
  ev.preventDefault();
  const f = new FormData(login);
  const s: Session = {
    user: String(f.get("user")),
    org: String(f.get("org")),
    room: String(f.get("room")),
    doc: String(f.get("doc")),
  };
  try {
    await mintToken(s.user, s.org);  // fails here, on the form, when the endpoint is off
  } catch (e) {
    $("login-error").textContent = e instanceof Error ? e.message : String(e);
    return;
  }
  login.hidden = true;
  $("app").hidden = false;
  (window as unknown as { bridge: Client }).bridge = start(s);
};
