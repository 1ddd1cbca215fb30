// An example front-end flow against a Huashen server, every call typed from openapi.yaml.
//
//   HUASHEN_URL=http://127.0.0.1:8080 HUASHEN_KEY=hs_… npm run flow
//
// HUASHEN_KEY is an admin or organizer key of the demo community. The flow adds a new
// volunteer, gives them their own key and, as that volunteer, signs up, lands on a
// waitlist, cancels and reads their hours. Any unexpected answer stops it with exit 1.

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

const me = await newVolunteer(`Flow Volunteer ${run}`, "KR");
console.log(`Created volunteer ${me.full_name} (${me.id})`);

const key = expect(
  "create volunteer key",
  201,
  await staff.POST("/v1/api-keys", {
    body: { name: `flow ${run}`, role: "volunteer", person_id: me.id },
  }),
);
check(key.role === "volunteer", `key role is ${key.role}`);
console.log(`Volunteer key ${key.prefix}… created`);

// From here on the volunteer acts with their own key.
const volunteer = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${key.secret}` },
});

// An upcoming shift with places, starting late enough that the volunteer may still
// cancel their own sign-up (the server's self-cancel lead is a few hours).
const open = expect(
  "list shifts",
  200,
  await volunteer.GET("/v1/shifts", {
    params: {
      query: { from: hoursFromNow(24), has_free_places: true, status: "scheduled", limit: 50 },
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

console.log("flow: ok");
