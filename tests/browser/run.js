#!/usr/bin/env node
/*
 * Browser test of the greentrail console: playwright-core drives Debian's
 * chromium (/usr/bin/chromium; no browser is ever downloaded) against a
 * greentrail server this script starts on a free loopback port with a
 * fresh data dir.
 *
 * Walks the console like a user: sign in (a wrong secret first; later an
 * IAM user with a console password, whose policy denies writes), create a
 * Greengrass group, find it in Event history, filter by event name and by
 * user, open the record, download CSV and JSON and check their rows, see a
 * new event made with boto3 appear in live mode, toggle the time zone,
 * look at the group, trails pages, and sign out. Screenshots of the main
 * pages go to tests/browser/artifacts/ (gitignored).
 *
 * Usage: node tests/browser/run.js   (GREENTRAIL_BIN overrides build/greentrail)
 * Exit status 0 when every step passed.
 */
"use strict";
const { chromium } = require("playwright-core");
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.GREENTRAIL_BIN || path.join(ROOT, "build", "greentrail");
const ART = path.join(__dirname, "artifacts");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

function assert(cond, msg) { if (!cond) throw new Error("assertion failed: " + msg); }

/* ------------------------------------------------------------ server */
function startServer(extraArgs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gt-browser-"));
  const data = path.join(dir, "data");
  const proc = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", data, ...(extraArgs || [])], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stderr.on("data", (d) => { out += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start: " + out)), 20000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m && fs.existsSync(path.join(data, "credentials"))) {
        clearTimeout(timer);
        const creds = fs.readFileSync(path.join(data, "credentials"), "utf8");
        const ak = /\[default\][^[]*aws_access_key_id = (\S+)/.exec(creds)[1];
        const sk = /\[default\][^[]*aws_secret_access_key = (\S+)/.exec(creds)[1];
        resolve({ proc, dir, data, url: `http://127.0.0.1:${m[1]}`, ak, sk, output: () => out });
      }
    });
    proc.once("exit", (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

/* SIGTERM, wait for the exit (it drains), then remove the data dir. */
function stopServer(server) {
  return new Promise((resolve) => {
    const done = () => { fs.rmSync(server.dir, { recursive: true, force: true }); resolve(); };
    if (server.proc.exitCode !== null) return done();
    const t = setTimeout(() => { server.proc.kill("SIGKILL"); }, 10000);
    server.proc.once("exit", () => { clearTimeout(t); done(); });
    server.proc.kill("SIGTERM");
  });
}

/* A Greengrass call with boto3 (Debian's python3), as another user would. */
function boto3(server, script) {
  const py = `
import boto3, json, sys
gg = boto3.client("greengrass", endpoint_url="${server.url}", region_name="us-east-1",
                  aws_access_key_id="${server.ak}", aws_secret_access_key="${server.sk}")
${script}`;
  return execFileSync("/usr/bin/python3", ["-c", py], { encoding: "utf8" }).trim();
}

/* ------------------------------------------------------------ steps */
const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push([name, "ok", Date.now() - t0]);
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push([name, "FAIL", Date.now() - t0]);
    console.log(`FAIL ${name}: ${e.stack || e}`);
    throw e;
  }
}

async function rowsText(page) {
  return page.$$eval("#ev-rows tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const server = await startServer(["--delivery-interval", "1"]);
  // the server must not outlive this script, however it ends
  process.on("exit", () => { if (server.proc.exitCode === null) server.proc.kill("SIGKILL"); });
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "gt-chromium-"));
  let failed = false, context = null;
  try {
    // a fresh profile (--user-data-dir) for every run, through playwright's own option
    context = await chromium.launchPersistentContext(userDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      env: Object.assign({}, process.env, { TZ: "Asia/Kolkata" }),
      viewport: { width: 1400, height: 900 },
      acceptDownloads: true,
      timezoneId: "Asia/Kolkata",
    });

    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(15000);
    const consoleErrors = [];
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    const shot = (name) => page.screenshot({ path: path.join(ART, name + ".png"), fullPage: true });
    const suffix = Math.random().toString(36).slice(2, 8);
    const groupName = `console-group-${suffix}`;
    let groupId;

    await step("sign-in page, wrong secret is refused", async () => {
      await page.goto(`${server.url}/console/`);
      await page.waitForSelector("#akid");
      await page.fill("#akid", server.ak);
      await page.fill("#secret", "not-the-secret");
      await page.click("#signin-btn");
      await page.waitForSelector("#signin-message.alert:not([hidden])");
      const msg = await page.textContent("#signin-message");
      assert(/not valid/.test(msg), `error message: ${msg}`);
      await shot("signin");
    });

    await step("sign in with the access key pair", async () => {
      await page.fill("#akid", server.ak);
      await page.fill("#secret", server.sk);
      await page.click("#signin-btn");
      await page.waitForSelector("#events");
      assert((await page.textContent("#who-name")) === "admin", "signed in as admin");
      const cookies = await context.cookies();
      const c = cookies.find((x) => x.name === "gt_console");
      assert(c && c.httpOnly && c.sameSite === "Strict", "session cookie is HttpOnly, SameSite=Strict");
      const html = await page.content();
      assert(!html.includes(server.sk), "secret not in the page");
      const js = await page.evaluate(() => document.cookie);
      assert(!js.includes("gt_console"), "cookie not readable from JS");
    });

    await step("create a group from the console; definitions are listed", async () => {
      boto3(server, `gg.create_core_definition(Name="core-defs")
gg.create_function_definition(Name="lambdas", InitialVersion={"Functions": []})`);
      await page.click('a[data-nav="greengrass"]');
      await page.waitForSelector("#group-name");
      await page.fill("#group-name", groupName);
      await page.click("#create-btn");
      await page.waitForSelector("#created");
      await page.waitForSelector(`#groups >> text=${groupName}`);
      groupId = /\(([0-9a-f-]{36})\)/.exec(await page.textContent("#created"))[1];
      await page.waitForSelector("#definitions");
      const defs = await page.$$eval("#definitions tbody tr", (trs) => trs.map((tr) => tr.children[0].textContent + ":" + tr.children[1].textContent));
      assert(defs.sort().join(",") === "Core:core-defs,Function:lambdas", `definitions: ${defs}`);
      await shot("greengrass");
    });

    await step("group page: versions, deploy shows the API's answer", async () => {
      await page.click(`#groups >> text=${groupName}`);
      await page.waitForSelector("#group-info dl");
      await page.click("#new-version");
      await page.waitForSelector("#versions tbody tr");
      await page.waitForSelector("#deploy:not([disabled])");
      await page.click("#deploy");
      await page.waitForFunction(() => /Deployment/.test(document.querySelector("#action-msg").textContent));
      const txt = await page.textContent("#action-msg");
      assert(/CreateDeployment|Deployment/.test(txt), `deploy result shown: ${txt}`);
      await page.waitForSelector("#deployments-box .alert, #deployments-box .empty, #deployments");
      await shot("group");
    });

    await step("trails page: create a trail, start and stop logging, see the last delivery", async () => {
      // a bucket whose policy lets CloudTrail write (cloudtrail.md §2.5), made with boto3
      execFileSync("/usr/bin/python3", ["-c", `
import boto3, json
s3 = boto3.client("s3", endpoint_url="${server.url}", region_name="us-east-1",
                  aws_access_key_id="${server.ak}", aws_secret_access_key="${server.sk}")
s3.create_bucket(Bucket="console-trail-bkt")
s3.put_bucket_policy(Bucket="console-trail-bkt", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
     "Resource": "arn:aws:s3:::console-trail-bkt"},
    {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::console-trail-bkt/AWSLogs/123456789012/*"}]}))`]);
      await page.click('a[data-nav="trails"]');
      await page.waitForSelector("#trails-box .alert, #trails-box .empty, #trails");
      await page.fill("#trail-name", "console-trail");
      await page.fill("#trail-bucket", "console-trail-bkt");
      await page.click("#trail-create");
      await page.waitForSelector('#trails tr[data-trail="console-trail"] button[data-action="start"]');
      await page.click('#trails tr[data-trail="console-trail"] button[data-action="start"]');
      await page.waitForSelector('#trails tr[data-trail="console-trail"] button[data-action="stop"]');
      const pill = await page.textContent('#trails tr[data-trail="console-trail"] .pill');
      assert(pill === "Logging", `status after start: ${pill}`);
      // the server delivers every second here (--delivery-interval 1): reload until a delivery shows
      let last = "";
      for (let i = 0; i < 40 && !/\d/.test(last); i++) {
        await page.waitForTimeout(500);
        await page.click("#trail-refresh");
        await page.waitForTimeout(200);
        await page.waitForSelector('#trails tr[data-trail="console-trail"]');
        last = await page.textContent('#trails tr[data-trail="console-trail"] .last-delivery');
      }
      assert(/\d/.test(last), `last delivery shown: ${last}`);
      await shot("trails");
      await page.click('#trails tr[data-trail="console-trail"] button[data-action="stop"]');
      await page.waitForSelector('#trails tr[data-trail="console-trail"] button[data-action="start"]');
      // the console's calls are recorded as console calls
      const names = boto3(server, `
ct = boto3.client("cloudtrail", endpoint_url="${server.url}", region_name="us-east-1",
                  aws_access_key_id="${server.ak}", aws_secret_access_key="${server.sk}")
ev = []
for n in ("CreateTrail", "StartLogging", "StopLogging"):
    ev += ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": n}])["Events"]
print(json.dumps([json.loads(e["CloudTrailEvent"]).get("sessionCredentialFromConsole") for e in ev]))`);
      assert(JSON.stringify(JSON.parse(names)) === '["true","true","true"]', `console trail calls recorded: ${names}`);
    });

    await step("the region selector: groups are per region", async () => {
      await page.click('a[data-nav="greengrass"]');
      await page.waitForSelector(`#groups >> text=${groupName}`);
      await page.selectOption("#region", "eu-west-1");
      await page.waitForSelector("#groups-box .empty");
      await page.selectOption("#region", "us-east-1");
      await page.waitForSelector(`#groups >> text=${groupName}`);
    });

    await step("find the group's CreateGroup in Event history, filter by event name", async () => {
      await page.click('a[data-nav="events"]');
      await page.waitForSelector("#events");
      await page.selectOption("#attr", "EventName");
      await page.fill("#attr-value", "CreateGroup");
      await page.click("#apply");
      await page.waitForFunction(() => document.querySelectorAll("#ev-rows tr.clickable").length > 0);
      const rows = await rowsText(page);
      assert(rows.every((r) => r[1] === "CreateGroup"), "only CreateGroup rows");
      assert(rows.some((r) => r[5].includes(groupId)), `a row names group ${groupId}`);
      assert(/ UTC$/.test(rows[0][0]), `UTC time by default: ${rows[0][0]}`);
    });

    await step("filter by user", async () => {
      await page.selectOption("#attr", "Username");
      await page.fill("#attr-value", "admin");
      await page.click("#apply");
      await page.waitForFunction(() => [...document.querySelectorAll("#ev-rows tr.clickable td:nth-child(2)")].some((td) => td.textContent === "CreateGroup"));
      const rows = await rowsText(page);
      assert(rows.length > 1 && rows.every((r) => r[2] === "admin"), "only admin rows");
      await page.fill("#attr-value", "nobody-here");
      await page.click("#apply");
      await page.waitForSelector("#ev-msg .empty");
      await shot("events-empty");
    });

    await step("open a record: pretty JSON of a console call", async () => {
      await page.selectOption("#attr", "ResourceName");
      await page.fill("#attr-value", `arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/${groupId}`);
      await page.click("#apply");
      await page.waitForFunction(() => [...document.querySelectorAll("#ev-rows tr.clickable td:nth-child(2)")].some((td) => td.textContent === "CreateGroup"));
      const row = page.locator("#ev-rows tr.clickable").filter({ has: page.locator("td:nth-child(2)", { hasText: /^CreateGroup$/ }) }).first();
      await row.click();
      await page.waitForSelector("#record-json");
      const text = await page.textContent("#record-json");
      assert(text.includes('\n  "eventVersion"'), "pretty-printed");
      const rec = JSON.parse(text);
      assert(rec.sessionCredentialFromConsole === "true", "sessionCredentialFromConsole is the string true");
      assert(rec.userAgent === "console.amazonaws.com", "console user agent");
      assert(rec.requestParameters.Name === groupName, "request parameters");
      assert(rec.userIdentity.accessKeyId.startsWith("ASIA") && rec.userIdentity.sessionContext, "session identity");
      await shot("record");
      await page.click("#record-close");
      await page.waitForSelector("#record", { state: "detached" });
    });

    await step("download CSV and JSON of the current filter", async () => {
      // a group whose name would be a spreadsheet formula, made with boto3
      boto3(server, `gg.create_group(Name="=HYPERLINK(1)")`);
      await page.selectOption("#attr", "EventName");
      await page.fill("#attr-value", "CreateGroup");
      await page.click("#apply");
      await page.waitForFunction(() => document.querySelectorAll("#ev-rows tr.clickable").length >= 2);
      const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#dl-csv")]);
      const csv = fs.readFileSync(await dl.path(), "utf8");
      fs.writeFileSync(path.join(ART, "events.csv"), csv);
      const lines = csv.trim().split("\r\n");
      assert(lines[0].startsWith("Event time,Event name,User name,Event source,Resource type,Resource name,Error code"), "CSV header");
      assert(lines.length === 3, `two CreateGroup rows, got ${lines.length - 1}`);
      assert(lines.slice(1).every((l) => l.split(",")[1] === "CreateGroup"), "CSV rows are CreateGroup");
      assert(lines.some((l) => l.includes(groupId)), "CSV names the console's group");
      const guarded = await page.evaluate(() => [csvCell("=1+2"), csvCell("+x"), csvCell("-x"), csvCell("@x"), csvCell("a,b"), csvCell("ok")]);
      assert(JSON.stringify(guarded) === JSON.stringify(["'=1+2", "'+x", "'-x", "'@x", '"a,b"', "ok"]), `CSV injection guard: ${guarded}`);
      const [dj] = await Promise.all([page.waitForEvent("download"), page.click("#dl-json")]);
      const recs = JSON.parse(fs.readFileSync(await dj.path(), "utf8")).Records;
      assert(recs.length === 2 && recs.every((r) => r.eventName === "CreateGroup"), "JSON records");
      assert(recs.some((r) => r.requestParameters && r.requestParameters.Name === "=HYPERLINK(1)"), "JSON keeps values verbatim");
    });

    await step("absolute time range and the read-only filter", async () => {
      await page.selectOption("#attr", "ReadOnly");
      await page.fill("#attr-value", "true");
      await page.click('[data-preset="custom"]');
      await page.waitForSelector("#custom-range:not([hidden])");
      const day = 86400000, fmt = (ms) => new Date(ms).toISOString().slice(0, 16);   // UTC mode
      await page.fill("#start", fmt(Date.now() - 2 * day));
      await page.fill("#end", fmt(Date.now() - day));
      await page.click("#apply");
      await page.waitForSelector("#ev-msg .empty");
      await page.fill("#end", fmt(Date.now() + 60000));
      await page.click("#apply");
      await page.waitForFunction(() => document.querySelectorAll("#ev-rows tr.clickable").length > 0);
      const names = (await rowsText(page)).map((r) => r[1]);
      assert(names.includes("GetGroup") && !names.includes("CreateGroup"), `read-only events only: ${names}`);
    });

    await step("paging through more than 50 events", async () => {
      boto3(server, `for i in range(50): gg.create_group(Name=f"bulk-{i}")`);
      await page.selectOption("#attr", "EventName");
      await page.fill("#attr-value", "CreateGroup");
      await page.click('[data-preset="1h"]');
      await page.waitForFunction(() => document.querySelectorAll("#ev-rows tr.clickable").length === 50);
      const first = (await rowsText(page))[0];
      await page.click("#next");
      await page.waitForFunction(() => document.querySelector("#page-no").textContent === "Page 2" &&
        document.querySelectorAll("#ev-rows tr.clickable").length === 2);   // 52 CreateGroup in all; the NextToken must match page 1's time range
      assert(await page.isDisabled("#next"), "last page");
      await page.click("#prev");
      await page.waitForFunction(() => document.querySelectorAll("#ev-rows tr.clickable").length === 50);
      assert(JSON.stringify((await rowsText(page))[0]) === JSON.stringify(first), "back on page 1");
    });

    await step("live mode shows a new event made with boto3", async () => {
      await page.selectOption("#attr", "");
      await page.click('[data-preset="30m"]');
      await page.waitForFunction(() => document.querySelectorAll("#ev-rows tr.clickable").length > 0);
      await page.check("#live");
      await page.waitForSelector("#live-status .live-dot");
      const id = boto3(server, `print(gg.create_group(Name="live-${suffix}")["Id"])`);
      await page.waitForFunction((gid) => [...document.querySelectorAll("#ev-rows tr.clickable")].some((tr) => tr.textContent.includes(gid)), id, { timeout: 20000 });
      const first = (await rowsText(page))[0];
      assert(first[1] === "CreateGroup" && first[5].includes(id), `newest row first: ${first}`);
      await shot("events-live");
      await page.uncheck("#live");
    });

    await step("time zone toggle shows browser-local times", async () => {
      await page.click("#tz-local");
      await page.waitForFunction(() => { const td = document.querySelector("#ev-rows tr.clickable td"); return td && /UTC\+05:30$/.test(td.textContent); });
      await shot("events");
      await page.click("#tz-utc");
      await page.waitForFunction(() => { const td = document.querySelector("#ev-rows tr.clickable td"); return td && / UTC$/.test(td.textContent); });
    });

    await step("sign out ends the session", async () => {
      await page.click("#signout");
      await page.waitForSelector("#akid");
      const status = await page.evaluate(async () => (await fetch("api/session")).status);
      assert(status === 401, `session after sign-out: ${status}`);
      await page.reload();
      await page.waitForSelector("#akid");
    });

    await step("sign in with an IAM user name and console password; policies apply", async () => {
      // a read-only IAM user with a console password (login profile), made with boto3
      execFileSync("/usr/bin/python3", ["-c", `
import boto3
iam = boto3.client("iam", endpoint_url="${server.url}", region_name="us-east-1",
                   aws_access_key_id="${server.ak}", aws_secret_access_key="${server.sk}")
iam.create_user(UserName="viewer")
iam.create_login_profile(UserName="viewer", Password="Br0wser-Passw0rd")
iam.attach_user_policy(UserName="viewer", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")`]);
      await page.click("#signin-toggle");
      await page.waitForSelector("#password");
      assert(await page.isHidden("#akid"), "access key fields hidden in password mode");
      await page.fill("#account", "123456789012");
      await page.fill("#username", "viewer");
      await page.fill("#password", "wrong-password");
      await page.click("#signin-btn");
      await page.waitForSelector("#signin-message.alert:not([hidden])");
      assert(/not valid/.test(await page.textContent("#signin-message")), "wrong password refused");
      assert((await page.inputValue("#password")) === "", "password field cleared");
      await page.fill("#password", "Br0wser-Passw0rd");
      await page.click("#signin-btn");
      await page.waitForSelector("#events");
      assert((await page.textContent("#who-name")) === "viewer", "signed in as viewer");
      assert(!(await page.content()).includes("Br0wser-Passw0rd"), "password not in the page");
      await page.click('a[data-nav="greengrass"]');
      await page.waitForSelector(`#groups >> text=${groupName}`);   // reads are allowed
      await page.fill("#group-name", `denied-${suffix}`);
      await page.click("#create-btn");
      await page.waitForSelector("#create-msg .alert");
      const msg = await page.textContent("#create-msg");
      assert(/AccessDenied/.test(msg) && /viewer/.test(msg), `CreateGroup denied cleanly: ${msg}`);
      await shot("password-denied");
      await page.click("#signout");
      await page.waitForSelector("#password");   // the sign-in page remembers the method
      assert((await page.inputValue("#account")) === "123456789012", "account id remembered");
      await page.click("#signin-toggle");
      await page.waitForSelector("#akid");
    });

    await step("an expired session sends the page back to sign-in", async () => {
      const short = await startServer(["--console-session-ttl", "2"]);
      try {
        await page.goto(`${short.url}/console/`);
        await page.fill("#akid", short.ak);
        await page.fill("#secret", short.sk);
        await page.click("#signin-btn");
        await page.waitForSelector("#events");
        await page.waitForSelector("#signin-message:not([hidden])", { timeout: 10000 });
        assert(/expired/.test(await page.textContent("#signin-message")), "expiry message");
        const status = await page.evaluate(async () => (await fetch("api/session")).status);
        assert(status === 401, `server refuses the expired session: ${status}`);
      } finally {
        await stopServer(short);
      }
    });

    await step("no script errors in the page", async () => {
      const unexpected = consoleErrors.filter((m) => !/status of (401|403|404|429|501|400)/.test(m));
      assert(unexpected.length === 0, unexpected.join("\n"));
    });
  } catch (e) {
    failed = true;
    if (!results.length || results[results.length - 1][1] !== "FAIL") console.log(`browser tests aborted: ${e.stack || e}`);
    console.log(server.output().split("\n").slice(-20).join("\n"));
  } finally {
    if (context) await context.close();
    await stopServer(server);
    fs.rmSync(userDir, { recursive: true, force: true });
  }
  const ok = results.filter((r) => r[1] === "ok").length;
  console.log(`browser tests: ${ok} passed, ${results.length - ok} failed; screenshots in ${ART}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
