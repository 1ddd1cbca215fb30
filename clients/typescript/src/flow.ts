// An example front-end flow against a Huashen server, every call typed from openapi.yaml.
//
//   HUASHEN_URL=http://127.0.0.1:8080 HUASHEN_KEY=hs_… HUASHEN_OUTBOX=./data/outbox npm run flow
//
// HUASHEN_KEY is an admin or organizer key of the demo community; HUASHEN_OUTBOX is the
// server's outbox folder (its mail as .eml files, when it has no SMTP server), where
// the flow reads the emailed code as the volunteer would in their mailbox. A new
// volunteer applies, confirms their address with the code, which signs them in, and
// with that session lists the open shifts, signs up, lands on a waitlist, cancels,
// reads their hours and signs out. Any unexpected answer stops it with exit 1.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Person = components["schemas"]["Person"];
type Shift = components["schemas"]["Shift"];
type Signup = components["schemas"]["Signup"];
type Station = components["schemas"]["Station"];

const DEMO_COMMUNITY = "huashenmiao";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`set ${name}`);
  }
  return value;
}

/** The body of a successful call with the expected status; anything else throws. */
function expect<T>(
  what: string,
  status: number,
  result: { data?: T; error?: unknown; response: Response },
): T {
  const { data, error, response } = result;
  if (response.status !== status || data === undefined) {
    throw new Error(
      `${what}: expected HTTP ${status}, got ${response.status} ${JSON.stringify(error ?? data)}`,
    );
  }
  return data;
}

function check(condition: boolean, message: string): void {
  if (!condition) {
    throw new Error(message);
  }
}

function hoursFromNow(hours: number): string {
  return new Date(Date.now() + hours * 3_600_000).toISOString();
}

const baseUrl = env("HUASHEN_URL");
const run = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

// Anyone: the public list of stations, no key.
const anonymous = createClient<paths>({ baseUrl });
const stations = expect("list stations", 200, await anonymous.GET("/v1/stations"));
check(stations.items.length > 0, "no stations: is this the demo?");
console.log("Stations:");
for (const station of stations.items) {
  console.log(`  ${station.name["zh-CN"] ?? "?"} / ${station.name["en"] ?? "?"}`);
}

// The organizer (or admin) sets a new volunteer up.
const staff = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${env("HUASHEN_KEY")}` },
});
const communities = expect("list communities", 200, await staff.GET("/v1/communities"));
const community = communities.items.find((c) => c.slug === DEMO_COMMUNITY);
if (community === undefined) {
  throw new Error(`no community ${DEMO_COMMUNITY} visible to HUASHEN_KEY`);
}
const communityId = community.id;
console.log(`Community: ${community.name["en"] ?? community.slug} (${communityId})`);

async function newVolunteer(fullName: string, nationality: string): Promise<Person> {
  return expect(
    `create ${fullName}`,
    201,
    await staff.POST("/v1/people", {
      body: {
        community_id: communityId,
        full_name: fullName,
        email: `flow-${run}-${nationality.toLowerCase()}@example.org`,
        nationality,
        locale: "en",
        languages: ["en", "ko"],
        skills: [],
        is_volunteer: true,
        is_organizer: false,
      },
    }),
  );
}

/** The text part of a mail as the outbox stores it (base64 or quoted-printable). */
function plainText(eml: string): string {
  const part = eml.split(/\r?\n--/).find((p) => /content-type:\s*text\/plain/i.test(p)) ?? eml;
  const [head = "", ...rest] = part.split(/\r?\n\r?\n/);
  const body = rest.join("\n\n");
  if (/content-transfer-encoding:\s*base64/i.test(head)) {
    return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  }
  if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
    const bytes = body
      .replace(/=\r?\n/g, "")
      .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, "latin1").toString("utf8");
  }
  return body;
}

/** The six-digit code of the newest mail to `address` in the outbox, waiting up to 20 s. */
async function codeFromOutbox(address: string): Promise<string> {
  const outbox = env("HUASHEN_OUTBOX");
  for (let tries = 0; tries < 100; tries++) {
    let files: string[] = [];
    try {
      files = readdirSync(outbox).filter((f) => f.endsWith(".eml"));
    } catch {
      // Not there until the first mail.
    }
    for (const file of files) {
      const eml = readFileSync(join(outbox, file), "utf8");
      if (!eml.toLowerCase().includes(`to: ${address}`) && !eml.includes(`<${address}>`)) {
        continue;
      }
      // The code stands on a line of its own.
      const code = /^\s*(\d{6})\s*$/m.exec(plainText(eml));
      if (code?.[1] !== undefined) {
        return code[1];
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no mail with a code to ${address} in ${outbox}`);
}

// A new volunteer applies by themselves, without a key, with their consent.
const email = `flow-${run}-kr@example.org`;
const applied = expect(
  "apply",
  202,
  await anonymous.POST("/v1/communities/{id}/applications", {
    params: { path: { id: communityId } },
    body: {
      full_name: `Flow Volunteer ${run}`,
      email,
      locale: "ko",
      nationality: "KR",
      languages: ["ko", "en"],
      skills: [],
      wants_to_volunteer: true,
      consent: { text_version: "2026-11", accepted: true },
    },
  }),
);
console.log(`Applied: ${applied.detail}`);

// The code from their mailbox confirms the address and signs them in.
const code = await codeFromOutbox(email);
const session = expect(
  "verify the code",
  201,
  await anonymous.POST("/v1/sign-in/verify", {
    body: { community_id: communityId, email, code },
  }),
);
const me: Person = session.person;
check(session.role === "volunteer", `session role is ${session.role}`);
console.log(`Signed in as ${me.full_name} (${me.status}) until ${session.expires_at}`);

// From here on the volunteer acts with their own session.
const volunteer = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${session.token}` },
});
const whoami = expect("who am I", 200, await volunteer.GET("/v1/me"));
check(whoami.person.id === me.id, "GET /v1/me names another person");

// An upcoming shift with places, starting late enough that the volunteer may still
// cancel their own sign-up (the server's self-cancel lead is a few hours).
// Open shifts are public: no key needed to browse them.
const open = expect(
  "list open shifts",
  200,
  await anonymous.GET("/v1/shifts", {
    params: {
      query: {
        community_id: communityId,
        from: hoursFromNow(24),
        has_free_places: true,
        limit: 50,
      },
    },
  }),
);
const shift: Shift | undefined = open.items.find((s) => s.confirmed_count < s.capacity);
if (shift === undefined) {
  throw new Error("no upcoming shift with free places");
}
const stationOf = (id: string): Station | undefined => stations.items.find((s) => s.id === id);
console.log(
  `Shift at ${stationOf(shift.station_id)?.name["en"] ?? shift.station_id}, ${shift.starts_at}` +
    ` (${shift.confirmed_count}/${shift.capacity} confirmed)`,
);

const signup: Signup = expect(
  "sign up",
  201,
  await volunteer.POST("/v1/shifts/{id}/signups", {
    params: { path: { id: shift.id } },
    body: { person_id: me.id },
  }),
);
console.log(`Signed up: ${signup.status}`);
check(signup.status === "confirmed", `expected confirmed, got ${signup.status}`);

// A full shift: the organizer opens one with a single place, far from the first so it
// cannot overlap, and someone else takes that place.
const first = stations.items.find((s) => s.community_id === communityId);
if (first === undefined) {
  throw new Error("the demo community has no station");
}
const full = expect(
  "create a shift with one place",
  201,
  await staff.POST("/v1/shifts", {
    body: {
      station_id: first.id,
      starts_at: hoursFromNow(24 * 60),
      ends_at: hoursFromNow(24 * 60 + 2),
      capacity: 1,
      languages_wanted: [],
      skills_wanted: [],
      notes: `flow ${run}`,
    },
  }),
);
const other = await newVolunteer(`Flow Neighbour ${run}`, "JP");
const taken = expect(
  "sign the neighbour up",
  201,
  await staff.POST("/v1/shifts/{id}/signups", {
    params: { path: { id: full.id } },
    body: { person_id: other.id },
  }),
);
check(taken.status === "confirmed", `the neighbour is ${taken.status}`);

const waiting = expect(
  "sign up for the full shift",
  201,
  await volunteer.POST("/v1/shifts/{id}/signups", {
    params: { path: { id: full.id } },
    body: { person_id: me.id },
  }),
);
console.log(`Full shift: ${waiting.status}, waitlist_position ${waiting.waitlist_position ?? "?"}`);
check(
  waiting.status === "waitlisted" && waiting.waitlist_position === 1,
  `expected waitlisted at 1, got ${waiting.status} at ${waiting.waitlist_position ?? "none"}`,
);

// The volunteer gives up the first shift.
const cancelled = expect(
  "cancel",
  200,
  await volunteer.DELETE("/v1/shifts/{id}/signups/{person_id}", {
    params: { path: { id: shift.id, person_id: me.id } },
  }),
);
console.log(
  `Cancelled: ${cancelled.signup.status}; moved up from the waitlist: ${cancelled.promoted.length}`,
);
check(cancelled.signup.status === "cancelled", `expected cancelled, got ${cancelled.signup.status}`);

const hours = expect(
  "hours",
  200,
  await volunteer.GET("/v1/people/{id}/hours", { params: { path: { id: me.id } } }),
);
console.log(`Hours: ${hours.hours} over ${hours.shifts} attended shifts`);
check(hours.person_id === me.id, "hours of another person");

const signedOut = await volunteer.DELETE("/v1/sessions/current");
check(signedOut.response.status === 204, `sign out: HTTP ${signedOut.response.status}`);
const after = await volunteer.GET("/v1/me");
check(after.response.status === 401, `after signing out: HTTP ${after.response.status}`);
console.log("Signed out");

console.log("flow: ok");
