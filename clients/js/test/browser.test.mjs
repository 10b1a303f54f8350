// The demo page in a real browser (Debian's chromium through playwright-core), served by a
// real edge: two users of one org, notifications, chat, and an edge restart.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

import { messageSent, notificationCreated, Stack } from "./stack.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.env.BB_TEST_OUT ?? resolve(here, "../../../build/js-browser");
const chromiumPath = process.env.BB_CHROMIUM ?? "/usr/bin/chromium";
const timeout = 15_000;

let stack;
let context;
let userDataDir;
let a;
let b;

// Without the background-networking flags Chromium's own connections get refused here and
// slow everything; the sandbox needs privileges CI containers lack.
const chromiumArgs = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync"];

async function signIn(user) {
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  await page.goto(stack.httpUrl + "/");
  await page.fill("input[name=user]", user);
  await page.fill("input[name=org]", "7");
  await page.click("#login button[type=submit]");
  await page.locator('body[data-state="connected"]').waitFor();
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(outDir, name), fullPage: true });
// The text of each list item without its grey author or type label.
const texts = (page, selector) =>
  page.$$eval(selector, (items) => items.map((li) => li.firstChild?.data ?? ""));

async function sendChat(page, text) {
  await page.fill("#chat-form input[name=text]", text);
  await page.click("#chat-form button");
}

// Waits until the chat log's entries start with exactly `expected` (each with its author).
async function waitForChat(page, expected) {
  await page.waitForFunction((want) => {
    const got = [...document.querySelectorAll("#chat-log li")].map((li) => li.firstChild.data);
    return got.length >= want.length;
  }, expected, { timeout });
  assert.deepEqual(await texts(page, "#chat-log li"), expected);
}

before(async () => {
  mkdirSync(outDir, { recursive: true });
  stack = await Stack.start({
    staticDir: resolve(here, "../dist/demo"), devTokens: true, outDir: join(outDir, "logs"),
  });
  userDataDir = mkdtempSync(join(tmpdir(), "bb-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath, headless: true, args: chromiumArgs,
    viewport: { width: 1280, height: 860 },
  });
  a = await signIn("u-ada");
  b = await signIn("u-bob");
});

after(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await stack?.stop();
});

test("user B appears online on A's page, then away", async () => {
  await a.locator('#online li[data-user="u-bob"][data-status="online"]').waitFor();
  await a.locator('#online li[data-user="u-ada"]').waitFor();
  await shot(a, "01-b-online-on-a.png");
  await b.check("#away");
  await a.locator('#online li[data-user="u-bob"][data-status="away"]').waitFor();
  await shot(a, "02-b-away-on-a.png");
  await b.uncheck("#away");
  await a.locator('#online li[data-user="u-bob"][data-status="online"]').waitFor();
});

test("a NotificationCreated for A published from the command line raises A's bell", async () => {
  await stack.publish([notificationCreated("u-ada", "Your report is ready")]);
  await a.locator("#bell-count", { hasText: /^1$/ }).waitFor();
  await shot(a, "03-a-bell.png");
  assert.equal(await b.textContent("#bell-count"), "0", "B's bell stays quiet");
  await a.click("#notifications li");
  await a.locator("#bell-count", { hasText: /^0$/ }).waitFor();
});

test("chat messages go both ways, once each; document changes reach the other user", async () => {
  await sendChat(a, "hello from ada");
  await waitForChat(b, ["hello from ada"]);
  await sendChat(b, "hello from bob");
  await waitForChat(a, ["hello from ada", "hello from bob"]);
  await waitForChat(b, ["hello from ada", "hello from bob"]);
  await a.fill("#doc-form input[name=text]", "title: Q3 plan");
  await a.click("#doc-form button");
  await b.locator("#doc-feed li", { hasText: "title: Q3 plan" }).waitFor();
  await shot(a, "04-chat-a.png");
  await shot(b, "04-chat-b.png");
});

test("after an edge restart the pages receive what was published meanwhile, once", async () => {
  await stack.stopEdge("SIGTERM");
  await a.locator('body[data-state="reconnecting"]').waitFor();
  await b.locator('body[data-state="reconnecting"]').waitFor();
  await shot(a, "05-edge-down.png");
  await stack.publish([notificationCreated("u-ada", "Published while the edge was down"),
                       messageSent("general", "while the edge was down", "u-app")]);
  await stack.startEdge();
  await a.locator('body[data-state="connected"]').waitFor({ timeout: 20_000 });
  await b.locator('body[data-state="connected"]').waitFor({ timeout: 20_000 });
  await a.locator("#bell-count", { hasText: /^1$/ }).waitFor();
  const missed = ["hello from ada", "hello from bob", "while the edge was down"];
  await waitForChat(a, missed);
  await waitForChat(b, missed);
  // A live message after the replay: anything replayed twice would show before it.
  await stack.publish([messageSent("general", "after the restart", "u-app")]);
  const expected = [...missed, "after the restart"];
  await waitForChat(a, expected);
  await waitForChat(b, expected);
  assert.deepEqual(await texts(a, "#notifications li"),
                   ["Published while the edge was down", "Your report is ready"]);
  await shot(a, "06-after-restart-a.png");
  await shot(b, "06-after-restart-b.png");
});

test("mark all as read and clear all empty the bell", async () => {
  await a.click("#read-all");
  await a.locator("#bell-count", { hasText: /^0$/ }).waitFor();
  assert.equal(await a.locator("#notifications li[data-unread]").count(), 0);
  await a.click("#clear-all");
  assert.equal(await a.locator("#notifications li").count(), 0);
  await shot(a, "07-cleared.png");
});
