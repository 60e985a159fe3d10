// The settings page as an admin uses it, in headless Chromium (Debian's, driven by
// playwright-core) against `guildbridge local`: log in through the sandbox's Discord login,
// fix an invalid naming pattern, meet a stale tab's conflict, edit a reminder with its
// preview, Sync now, retry an errored channel, make an API key and use it with curl, log
// out. Every page is screenshotted under target/screenshots/.
//
// GUILDBRIDGE_BIN names the guildbridge binary (default: target/release/guildbridge).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const bin = process.env.GUILDBRIDGE_BIN ?? join(root, "target/release/guildbridge");
const port = Number(process.env.BROWSER_TEST_PORT ?? 18787);
const sandboxPort = Number(process.env.BROWSER_SANDBOX_PORT ?? port + 1);
const site = `http://127.0.0.1:${port}`;
const sandbox = `http://127.0.0.1:${sandboxPort}`;
const demoGuild = "1100000000000000100";
const shots = join(root, "target/screenshots");
const run = promisify(execFile);

let server;
let dataDir;
let browser;
let context;
let page;

async function waitFor(url, tries = 200) {
  for (let i = 0; i < tries; i += 1) {
    try {
      const answer = await fetch(url);
      if (answer.status < 500) return;
    } catch {
      // not up yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${url} did not come up`);
}

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/// Reloads until `check` holds (a worker is doing the work meanwhile).
async function eventually(check, what) {
  for (let i = 0; i < 100; i += 1) {
    if (await check()) return;
    await new Promise((done) => setTimeout(done, 200));
    await page.reload();
  }
  throw new Error(`never: ${what}`);
}

async function login(as) {
  await page.goto(`${site}/settings`);
  await page.getByRole("link", { name: "Log in with Discord" }).click();
  await page.getByRole("link", { name: `Log in as ${as}` }).click();
  await page.waitForURL(`${site}/settings`);
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), "guildbridge-browser-"));
  // Its JSON log lines go where tools/browser.sh hands them to the secret scan.
  const out = process.env.BROWSER_LOCAL_LOG ? openSync(process.env.BROWSER_LOCAL_LOG, "a") : "ignore";
  const args = ["--data-dir", dataDir, "local", "--addr", `127.0.0.1:${port}`, "--sandbox-addr", `127.0.0.1:${sandboxPort}`, "--schedule-every-secs", "5"];
  const env = { ...process.env };
  for (const name of ["DISCORD_BOT_TOKEN", "DISCORD_PUBLIC_KEY", "SETTINGS_URL", "WEB_PUBLIC_URL"]) delete env[name];
  server = spawn(bin, args, { stdio: ["ignore", out, "inherit"], env });
  await waitFor(`${site}/settings`);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((done) => server.once("exit", done));
    server.kill("SIGINT");
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

test("an admin logs in through Discord and picks the demo guild", async () => {
  await page.goto(`${site}/settings`);
  await shot("login");
  await login("demo-admin");
  await assert.doesNotReject(page.getByRole("link", { name: "Guildbridge Demo" }).waitFor());
  assert.match(await page.locator("ul.guilds").innerText(), /connected/);
  await shot("guilds");
});

test("an invalid naming pattern shows its error beside the field; fixed, it saves", async () => {
  await page.getByRole("link", { name: "Guildbridge Demo" }).click();
  await page.getByLabel("Channel name pattern").fill("{track} night");
  await page.getByRole("button", { name: "Save settings" }).click();
  const error = page.locator("#naming_pattern-error");
  assert.match(await error.innerText(), /track/);
  assert.equal(await page.getByLabel("Channel name pattern").inputValue(), "{track} night");
  await shot("settings-invalid");
  await page.getByLabel("Channel name pattern").fill("{series_name} {event_name}");
  assert.match(await page.locator("#naming-preview").innerText(), /gt3-sprint-spa-6-hours/);
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByText("Saved.").waitFor();
  assert.match(await page.locator("table.audit").innerText(), /Channel name pattern/);
  await shot("settings");
});

test("the settings form is in sections and Save stays in reach", async () => {
  await page.goto(`${site}/settings/guilds/${demoGuild}`);
  const legends = await page.locator("form fieldset legend").allInnerTexts();
  assert.deepEqual(legends, ["Channels", "Members and sync", "Events and teams", "Notifications"]);
  const save = page.getByRole("button", { name: "Save settings" });
  const inView = async () => {
    const box = await save.boundingBox();
    const { height } = page.viewportSize();
    return box !== null && box.y >= 0 && box.y + box.height <= height;
  };
  assert.ok(await inView(), "Save is in the window at the top of the form");
  await page.getByRole("link", { name: "Events and teams" }).click();
  assert.ok(await inView(), "and after jumping to a section");
  await shot("settings-sections");
});

test("a stale second tab sees the conflict with the other values", async () => {
  const url = `${site}/settings/guilds/${demoGuild}`;
  const second = await context.newPage();
  await second.goto(url);
  await page.goto(url);
  await page.getByLabel("Sync every (hours)").fill("12");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByText("Saved.").waitFor();
  await second.getByLabel("Sync every (hours)").fill("48");
  await second.getByRole("button", { name: "Save settings" }).click();
  await second.getByText("Someone saved these settings").waitFor();
  assert.match(await second.locator(".conflict").innerText(), /Sync every \(hours\)\s+12/);
  assert.match(await second.locator(".field.conflicted").innerText(), /Saved meanwhile by someone else: 12/);
  assert.equal(await second.getByLabel("Sync every (hours)").inputValue(), "48");
  await second.screenshot({ path: join(shots, "settings-conflict.png"), fullPage: true });
  await second.close();
});

test("the Messages tab previews a reminder, names a broken placeholder beside it, and saves", async () => {
  await page.locator("nav.tabs").getByRole("link", { name: "Messages" }).click();
  await page.getByRole("heading", { name: "Messages" }).waitFor();
  // The default results template is previewed with sample values.
  assert.match(await page.locator("#results-preview").innerText(), /Results: Spa 6 Hours/);
  // Compact: each placeholder list shown once, unused reminders folded, Preview and Save in the window.
  const lists = await page.locator("code.placeholders").allInnerTexts();
  assert.equal(new Set(lists).size, lists.length, "no placeholder list twice");
  assert.ok(lists.length < (await page.locator("fieldset.template").count()), "the reminders share one list");
  assert.ok((await page.locator("details.fold:not([open])").count()) >= 1, "the unused reminders are folded");
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  assert.ok(height < 3200, `the tab is ${height} px tall (it was about 4,100 with every list and reminder open)`);
  const preview = await page.getByRole("button", { name: "Preview" }).boundingBox();
  assert.ok(preview && preview.y + preview.height <= page.viewportSize().height, "Preview is in the window");
  await page.getByLabel("Reminder 1: minutes before the start").fill("1440");
  await page.getByLabel("Reminder 1: text").fill("{name} on {track}");
  await page.getByRole("button", { name: "Preview" }).click();
  assert.match(await page.locator("#reminder1-problems").innerText(), /unknown placeholder \{track\}/);
  await shot("messages-invalid");
  // As you type, the preview follows (the page asks the server; no button pressed).
  await page.getByLabel("Reminder 1: text").fill("{name} on the grid");
  await page.locator("#reminder1-preview").getByText("Spa 6 Hours on the grid").waitFor();
  assert.equal(await page.locator("#reminder1-problems").count(), 0, "the problem went with the placeholder");
  await page.getByLabel("Reminder 1: text").fill("{name} starts {starts_in}: {offset} to go");
  await page.getByRole("button", { name: "Preview" }).click();
  assert.match(await page.locator("#reminder1-preview").innerText(), /Spa 6 Hours starts in 2 days: 24 hours to go/);
  assert.match(await page.locator("#reminder1-sizes").innerText(), /of 2000 characters at its longest/);
  await page.getByRole("button", { name: "Save messages" }).click();
  await page.getByText("Saved.").waitFor();
  assert.equal(await page.getByLabel("Reminder 1: minutes before the start").inputValue(), "1440");
  await shot("messages");
  const key = readFileSync(join(dataDir, "data", "demo-api-key"), "utf8").trim();
  const settings = await (await fetch(`${site}/v1/settings`, { headers: { authorization: `Bearer ${key}` } })).json();
  assert.deepEqual(settings.reminders.map((r) => r.before_minutes), [1440]);
});

test("the clock: the sync page names the next scheduled sync and shows the initial run nobody asked for", async () => {
  await page.getByRole("link", { name: "Sync", exact: true }).click();
  assert.match(await page.locator("main").innerText(), /Next scheduled sync: /);
  await eventually(async () => {
    const runs = await page.locator("table.runs").innerText().catch(() => "");
    return /scheduled\s+succeeded/.test(runs);
  }, "a scheduled run, finished");
  assert.doesNotMatch(await page.locator("main").innerText(), /No sync is scheduled/);
});

test("Sync now shows the run with its counts", async () => {
  await page.getByRole("link", { name: "Sync", exact: true }).click();
  const before = await page.locator("table.runs tbody tr").count();
  await page.getByRole("button", { name: "Sync now" }).click();
  await page.getByText(/Sync queued|already running/).waitFor();
  // The scheduled run is there already: wait for this one, newest first, to finish.
  await eventually(async () => {
    const rows = page.locator("table.runs tbody tr");
    return (await rows.count()) > before && /succeeded/.test(await rows.first().innerText());
  }, "the run Sync now started, finished");
  const total = Number(await page.locator("table.runs td.total").first().innerText());
  assert.ok(total > 0, `counted ${total} members`);
  await shot("sync");
});

test("an errored channel is retried and becomes active", async () => {
  const key = readFileSync(join(dataDir, "data", "demo-api-key"), "utf8").trim();
  const api = (method, path, body) =>
    fetch(`${site}/v1${path}`, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
  const bot = (permissions) =>
    fetch(`${sandbox}/sandbox/guilds/${demoGuild}/bot-permissions`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ permissions }) });
  assert.equal((await bot("0")).status, 204);
  assert.ok((await api("PUT", "/subjects/lead/browser-1", { name: "Browser Lead" })).ok);
  assert.equal((await api("POST", "/subjects/lead/browser-1/channel")).status, 202);
  await page.goto(`${site}/settings/guilds/${demoGuild}/channels?status=error`);
  const row = page.locator('tr[data-subject="lead:browser-1"]');
  await eventually(async () => (await row.count()) > 0, "the channel in error");
  assert.match(await row.locator("td").first().innerText(), /^Browser Lead/, "the subject's name, its id beneath");
  await shot("channels-error");
  assert.equal((await bot("8")).status, 204);
  await row.getByRole("button", { name: "Retry" }).click();
  await page.getByText("Retry queued").waitFor();
  await page.goto(`${site}/settings/guilds/${demoGuild}/channels?status=active`);
  await eventually(async () => (await page.locator('tr[data-subject="lead:browser-1"]').count()) > 0, "the channel active");
  assert.ok(await page.getByRole("link", { name: "Open in Discord" }).first().isVisible());
  await shot("channels");
});

test("the demo platform's API keys are read-only on the page, and its own key works with curl", async () => {
  await page.getByRole("link", { name: "API keys" }).click();
  await page.locator("#platform-owned").waitFor();
  assert.equal(await page.getByRole("button", { name: "Create a key" }).count(), 0, "a server admin cannot mint the platform's keys");
  assert.match(await page.locator("table").innerText(), /active/);
  await shot("keys");
  // The platform's key, as `guildbridge local` keeps it for the demo tenant.
  const secret = readFileSync(join(dataDir, "data", "demo-api-key"), "utf8").trim();
  assert.match(secret, /^gbk_/);
  const { stdout } = await run("curl", ["-s", "-w", "\n%{http_code}", "-H", `Authorization: Bearer ${secret}`, `${site}/v1/tenant`]);
  assert.match(stdout, /\n200$/);
  assert.match(stdout, /demo/);
});

test("the dead-letters page says there are none", async () => {
  await page.getByRole("link", { name: "Dead letters" }).click();
  await page.getByRole("heading", { name: "Dead letters" }).waitFor();
  assert.match(await page.locator("main").innerText(), /None\./);
  await shot("dead-letters");
});

test("at 375 px wide every page's rows are cards: nothing scrolls sideways, Archive in reach", async () => {
  const narrow = await browser.newContext({ viewport: { width: 375, height: 800 }, storageState: await context.storageState() });
  const phone = await narrow.newPage();
  for (const path of ["", "/messages", "/channels?status=active", "/sync", "/dead-letters", "/keys", "/webhook"]) {
    await phone.goto(`${site}/settings/guilds/${demoGuild}${path}`);
    const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 375, `${path || "/"} is ${wide} px wide`);
  }
  await phone.goto(`${site}/settings/guilds/${demoGuild}/channels?status=active`);
  const archive = phone.getByRole("button", { name: "Archive" }).first();
  const box = await archive.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 375, "Archive is in the window without scrolling sideways");
  const label = await phone.locator("tr[data-subject] td").first().evaluate((cell) => getComputedStyle(cell, "::before").content);
  assert.equal(label, '"Subject"', "each line says what it is");
  await phone.screenshot({ path: join(shots, "narrow-channels.png"), fullPage: true });
  await phone.goto(`${site}/settings/guilds/${demoGuild}/keys`);
  await phone.screenshot({ path: join(shots, "narrow-keys.png"), fullPage: true });
  await narrow.close();
});

test("after logout the old session cookie gets the login page", async () => {
  const cookies = await context.cookies();
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("link", { name: "Log in with Discord" }).waitFor();
  const replay = await browser.newContext();
  await replay.addCookies(cookies);
  const old = await replay.newPage();
  await old.goto(`${site}/settings`);
  assert.ok(await old.getByRole("link", { name: "Log in with Discord" }).isVisible());
  await replay.close();
});

test("a member without Manage Server sees no guild and gets 403", async () => {
  await login("demo-member");
  assert.match(await page.locator("main").innerText(), /Discord lists no server/);
  const answer = await page.goto(`${site}/settings/guilds/${demoGuild}`);
  assert.equal(answer.status(), 403);
  await shot("forbidden");
});
