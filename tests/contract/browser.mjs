// Browser checks of a running Huashen server, with headless Chromium (Debian's package)
// driven by playwright-core:
//
//  (a) the interactive docs at /docs: Authorize with a key, expand "list shifts",
//      Try it out, Execute, and the page shows a 200;
//  (b) a page on another origin (a tiny static server here, on a port the server allows
//      in HUASHEN_CORS_ORIGINS) records attendance with a cross-origin PUT, then reads
//      the shift with a cross-origin GET and can see its ETag header (exposed by CORS).
//
// Environment: HUASHEN_URL (http://127.0.0.1:PORT), HUASHEN_ADMIN_KEY, HUASHEN_ORIGIN_PORT;
// optional CHROMIUM (default /usr/bin/chromium), TMP_DIR for failure screenshots.
// Exit status 1 when a check fails; each check prints one line.

import http from "node:http";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`browser.mjs: set ${name}`);
    process.exit(2);
  }
  return value;
}

const BASE = env("HUASHEN_URL").replace(/\/$/, "");
const ADMIN_KEY = env("HUASHEN_ADMIN_KEY");
const ORIGIN_PORT = Number(env("HUASHEN_ORIGIN_PORT"));
const CHROMIUM = env("CHROMIUM", "/usr/bin/chromium");
const TMP = env("TMP_DIR", os.tmpdir());
const TIMEOUT = 20_000;

// --- the API over plain HTTP, for the setup --------------------------------------------

async function api(method, url, body, expected) {
  const response = await fetch(`${BASE}${url}`, {
    method,
    headers: {
      Authorization: `Bearer ${ADMIN_KEY}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) {
    throw new Error(`${method} ${url}: expected ${expected}, got ${response.status} ${text}`);
  }
  return text === "" ? null : JSON.parse(text);
}

/** A shift that starts in a few seconds with one fresh volunteer confirmed on it. */
async function confirmedSignupOnStartingShift() {
  const run = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const communities = await api("GET", "/v1/communities", undefined, 200);
  const community = communities.items.find((c) => c.slug === "huashenmiao") ?? communities.items[0];
  if (community === undefined) throw new Error("no community");
  const stations = await api("GET", `/v1/stations?community_id=${community.id}`, undefined, 200);
  const station = stations.items[0];
  if (station === undefined) throw new Error("no station");
  const person = await api(
    "POST",
    "/v1/people",
    {
      community_id: community.id,
      full_name: `Browser Volunteer ${run}`,
      email: `browser-${run}@example.org`,
      nationality: "FR",
      is_volunteer: true,
    },
    201,
  );
  // Attendance is recorded once a shift has started, and sign-ups close at its start:
  // sign up just before it starts, then wait.
  const startsAt = new Date(Date.now() + 4_000);
  const shift = await api(
    "POST",
    "/v1/shifts",
    {
      station_id: station.id,
      starts_at: startsAt.toISOString(),
      ends_at: new Date(startsAt.getTime() + 2 * 3_600_000).toISOString(),
      capacity: 2,
      notes: `browser.mjs ${run}`,
    },
    201,
  );
  const signup = await api("POST", `/v1/shifts/${shift.id}/signups`, { person_id: person.id }, 201);
  if (signup.status !== "confirmed") throw new Error(`sign-up is ${signup.status}`);
  return { shiftId: shift.id, personId: person.id, startsAt };
}

// --- (b)'s page on another origin -------------------------------------------------------

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Attendance</title></head>
<body><h1>Record attendance</h1><pre id="out">…</pre>
<script type="module">
  const params = new URLSearchParams(location.search);
  const url = params.get("api") + "/v1/shifts/" + params.get("shift") + "/signups/"
    + params.get("person") + "/attendance";
  const out = document.getElementById("out");
  try {
    const response = await fetch(url, {
      method: "PUT",
      headers: {
        "Authorization": "Bearer " + params.get("key"),
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ status: "attended", hours: 1.5 }),
    });
    const body = await response.json();
    const shift = await fetch(params.get("api") + "/v1/shifts/" + params.get("shift"), {
      headers: { "Authorization": "Bearer " + params.get("key") },
    });
    window.result = { status: response.status, body, etag: shift.headers.get("ETag") };
  } catch (error) {
    window.result = { error: String(error) };
  }
  out.textContent = JSON.stringify(window.result, null, 2);
</script></body></html>`;

function startOriginServer() {
  const server = http.createServer((request, response) => {
    if (request.url?.startsWith("/attendance.html")) {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      response.end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(ORIGIN_PORT, "127.0.0.1", () => resolve(server));
  });
}

// --- the checks -------------------------------------------------------------------------

async function screenshot(page, name) {
  const file = path.join(TMP, `browser-${name}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true });
    console.error(`  screenshot: ${file}`);
  } catch (error) {
    console.error(`  no screenshot: ${error}`);
  }
}

async function docsTryItOut(browser) {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  try {
    await page.goto(`${BASE}/docs`);
    await page.locator(".auth-wrapper button.authorize").click();
    const dialog = page.locator(".dialog-ux .modal-ux");
    await dialog.locator("input").first().fill(ADMIN_KEY);
    await dialog.locator(".auth-btn-wrapper button.authorize").click();
    await dialog.locator(".auth-btn-wrapper button.btn-done").click();

    const operation = page
      .locator(".opblock.opblock-get")
      .filter({ has: page.locator('.opblock-summary-path[data-path="/v1/shifts"]') });
    await operation.locator(".opblock-summary").first().click();
    await operation.locator("button.try-out__btn").click();
    await operation.locator("button.execute").click();
    const status = operation.locator(".live-responses-table .response .response-col_status");
    await status.first().waitFor();
    const shown = (await status.first().innerText()).trim();
    if (!shown.startsWith("200")) {
      throw new Error(`the docs show status ${JSON.stringify(shown)} for GET /v1/shifts`);
    }
    console.log("browser: PASS /docs Authorize + Try it out + Execute GET /v1/shifts shows 200");
    return true;
  } catch (error) {
    console.log(`browser: FAIL /docs try-it-out: ${error.message ?? error}`);
    await screenshot(page, "docs-failure");
    return false;
  } finally {
    await page.close();
  }
}

async function crossOriginAttendance(browser, setup) {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const origin = `http://127.0.0.1:${ORIGIN_PORT}`;
  try {
    const { shiftId, personId, startsAt } = await setup;
    const wait = startsAt.getTime() + 1_000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const query = new URLSearchParams({ api: BASE, shift: shiftId, person: personId, key: ADMIN_KEY });
    await page.goto(`${origin}/attendance.html?${query}`);
    await page.waitForFunction(() => window.result !== undefined);
    const result = await page.evaluate(() => window.result);
    if (result.error !== undefined) {
      throw new Error(`the page's fetch failed (CORS?): ${result.error}`);
    }
    if (result.status < 200 || result.status > 299) {
      throw new Error(`PUT attendance answered ${result.status}: ${JSON.stringify(result.body)}`);
    }
    if (result.body?.status !== "attended") {
      throw new Error(`the sign-up is ${result.body?.status}, not attended`);
    }
    if (!result.etag) {
      throw new Error("the page cannot read the shift's ETag header");
    }
    console.log(
      `browser: PASS cross-origin PUT attendance from ${origin}: ${result.status}; shift ETag ${result.etag}`,
    );
    return true;
  } catch (error) {
    console.log(`browser: FAIL cross-origin PUT attendance from ${origin}: ${error.message ?? error}`);
    await screenshot(page, "cors-failure");
    return false;
  } finally {
    await page.close();
  }
}

const origin = await startOriginServer();
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
let passed = 0;
let failed = 0;
try {
  // Set (b) up first: its shift has to start before attendance can be recorded.
  const setup = confirmedSignupOnStartingShift();
  setup.catch(() => {}); // reported by (b)
  for (const ok of [await docsTryItOut(browser), await crossOriginAttendance(browser, setup)]) {
    if (ok) passed += 1;
    else failed += 1;
  }
} finally {
  await browser.close();
  origin.close();
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
