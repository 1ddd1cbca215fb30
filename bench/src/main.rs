//! `huashen-bench`: measures Huashen against raw baselines doing the same work, side by
//! side in one run, on SQLite and PostgreSQL, and prints one table. The server is the
//! real `huashen serve --no-worker` binary in its own process; the baselines are the
//! same SQL through sqlx with prepared statements, on a pool configured as Huashen's.
//! Numbers are ratios measured in one run on one machine, never thresholds.

mod cpu;
mod load;
mod mail;
mod plan;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use huashen_api::auth::{NewKey, create_key};
use load::{Run, Stop};
use sea_orm::sqlx::{self, Row};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Databases {
    Sqlite,
    Postgres,
    Both,
}

/// A path the tool measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Measured {
    List,
    Signups,
    Mail,
    Planner,
}

/// Measures Huashen against raw baselines in one run and prints one table.
#[derive(clap::Parser)]
struct Args {
    /// Which databases to measure.
    #[arg(long, value_enum, default_value = "both")]
    db: Databases,
    /// Which paths to measure, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "list,signups,mail,planner"
    )]
    paths: Vec<Measured>,
    /// Client tasks sending at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of each timed run (after a second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// A run of seconds over little data, to show the tool works (CI); its numbers
    /// mean nothing.
    #[arg(long)]
    smoke: bool,
    /// The `huashen` binary to measure; by default the one beside this program.
    #[arg(long, env = "HUASHEN_BIN")]
    huashen: Option<PathBuf>,
    /// The `huashen-worker` binary to measure; by default the one beside `huashen`.
    #[arg(long, env = "HUASHEN_WORKER_BIN")]
    worker: Option<PathBuf>,
    /// Mails sent at once, by the worker and by the bare lettre baseline alike.
    #[arg(long, default_value_t = huashen_worker::DEFAULT_MAIL_CONCURRENCY)]
    mail_concurrency: usize,
    /// A PostgreSQL server where the tool creates and drops its own databases.
    #[arg(
        long,
        env = "HUASHEN_BENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,
    /// Be the bare lettre sender of the mail path, as described in this file, and exit.
    #[arg(long, hide = true)]
    bare_lettre: Option<PathBuf>,
}

/// How much data and load one run uses.
#[derive(Clone, Copy)]
struct Sizes {
    /// Shifts listed by the read path.
    shifts: usize,
    /// Shifts signed up for by the write path, and places on each.
    contested_shifts: usize,
    places: i32,
    /// Sign-ups sent per round (spread evenly over the round's contested shifts).
    signups: usize,
    /// Rounds of sign-ups, Huashen's and the baseline's taking turns on fresh shifts, so
    /// both meet the machine in the same moods.
    rounds: usize,
    timed: Duration,
    /// Welcome letters sent by the mail path.
    mails: usize,
    /// Residents the planner goes through.
    people: usize,
    /// Shifts starting within the reminder lead, and volunteers signed up for each;
    /// events likewise, and care plans due today.
    due_soon: DueSoon,
}

/// How much falls due besides the residents' own dates.
#[derive(Clone, Copy)]
struct DueSoon {
    shifts: usize,
    per_shift: usize,
    events: usize,
    per_event: usize,
    care_plans: usize,
}

impl Sizes {
    fn of(args: &Args) -> Self {
        if args.smoke {
            Self {
                shifts: 200,
                contested_shifts: 10,
                places: 5,
                signups: 100,
                rounds: 1,
                timed: Duration::from_secs(1),
                mails: 200,
                people: 5_000,
                due_soon: DueSoon {
                    shifts: 4,
                    per_shift: 5,
                    events: 2,
                    per_event: 10,
                    care_plans: 10,
                },
            }
        } else {
            Self {
                shifts: 10_000,
                contested_shifts: 100,
                places: 5,
                signups: 1_000,
                rounds: 5,
                timed: Duration::from_secs(args.seconds.max(1)),
                mails: 10_000,
                people: 1_000_000,
                due_soon: DueSoon {
                    shifts: 40,
                    per_shift: 5,
                    events: 4,
                    per_event: 50,
                    care_plans: 100,
                },
            }
        }
    }
}

/// One line of the table.
struct Line {
    path: &'static str,
    db: &'static str,
    who: &'static str,
    run: Run,
    /// Places taken beyond capacity, or waitlist positions out of order.
    overbooked: Option<u64>,
    /// Mails that arrived more than once.
    duplicates: Option<u64>,
    /// The server's peak resident memory so far, in MB.
    rss_mb: Option<f64>,
    /// CPU time spent during the run, by process.
    cpu: Option<cpu::Used>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = <Args as clap::Parser>::parse();
    if let Some(job) = &args.bare_lettre {
        return mail::send_bare(job).await;
    }
    let sizes = Sizes::of(&args);
    let huashen: PathBuf = match &args.huashen {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the program's folder")?
            .join("huashen"),
    };
    if !huashen.exists() {
        bail!(
            "no huashen binary at {} (build it: cargo build --release -p huashen-api)",
            huashen.display()
        );
    }
    let worker = match &args.worker {
        Some(path) => path.clone(),
        None => huashen.with_file_name("huashen-worker"),
    };
    if !worker.exists() {
        bail!(
            "no huashen-worker binary at {} (build it: cargo build --release -p huashen-worker)",
            worker.display()
        );
    }
    let bins = Bins { huashen, worker };
    let (mut lines, mut planners) = (Vec::new(), Vec::new());
    for (kind, wanted) in [
        ("sqlite", args.db != Databases::Postgres),
        ("postgres", args.db != Databases::Sqlite),
    ] {
        if wanted {
            let (more, planner) = measure(&args, sizes, &bins, kind).await?;
            lines.extend(more);
            planners.extend(planner);
        }
    }
    print_table(&args, &lines);
    print_cpu(&lines);
    print_planners(&planners);
    Ok(())
}

/// The programs measured.
struct Bins {
    huashen: PathBuf,
    worker: PathBuf,
}

/// The peak resident memory of process `pid` so far, in MB.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A fresh database of `kind`, dropped again by `Scratch::drop_now`.
struct Scratch {
    url: String,
    admin: Option<(String, String)>,
    _dir: Option<TempDir>,
}

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Scratch {
    async fn create(kind: &str, postgres: &str) -> anyhow::Result<Self> {
        let name = format!("huashen_bench_{}", Uuid::now_v7().simple());
        if kind == "sqlite" {
            let dir = std::env::temp_dir().join(&name);
            std::fs::create_dir_all(&dir)?;
            return Ok(Self {
                url: format!("sqlite://{}/bench.db", dir.display()),
                admin: None,
                _dir: Some(TempDir(dir)),
            });
        }
        let admin = migration::database::connect(postgres).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let base = postgres.rsplit_once('/').map_or(postgres, |(base, _)| base);
        Ok(Self {
            url: format!("{base}/{name}"),
            admin: Some((postgres.to_owned(), name)),
            _dir: None,
        })
    }

    /// PostgreSQL's name of the database; `None` for SQLite.
    fn database_name(&self) -> Option<&str> {
        self.admin.as_ref().map(|(_, name)| name.as_str())
    }

    async fn drop_now(self) -> anyhow::Result<()> {
        if let Some((url, name)) = &self.admin {
            let admin = migration::database::connect(url).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
        }
        Ok(())
    }
}

/// `huashen serve --no-worker` on a free loopback port.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(bin: &PathBuf, database_url: &str) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let outbox = std::env::temp_dir().join(format!("huashen-bench-outbox-{port}"));
        let child = Command::new(bin)
            .args(["serve", "--no-worker"])
            .env("DATABASE_URL", database_url)
            .env("HUASHEN_BIND", format!("127.0.0.1:{port}"))
            .env("HUASHEN_OUTBOX_DIR", outbox)
            .env("RUST_LOG", "warn")
            // The load comes from one key and one address, far above any real client.
            .env("HUASHEN_RATE_PER_KEY", "1000000")
            .env("HUASHEN_BURST_PER_KEY", "1000000")
            .env("HUASHEN_RATE_PER_IP", "1000000")
            .env("HUASHEN_BURST_PER_IP", "1000000")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = client
                .get(format!("{}/health/ready", server.url))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not become ready")
    }

    /// The peak resident memory of the server process so far, in MB.
    fn peak_rss_mb(&self) -> Option<f64> {
        peak_rss_mb(self.child.id())
    }

    fn stop(mut self) {
        // SIGTERM would be kinder, but the run is over and nothing is in flight.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of the server with the admin key.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    /// Signs `person` up for `shift`.
    async fn sign_up(&self, shift: Uuid, person: Uuid) -> anyhow::Result<Value> {
        self.post(
            &format!("/v1/shifts/{shift}/signups"),
            json!({"person_id": person}),
        )
        .await
    }
}

fn id(body: &Value) -> anyhow::Result<Uuid> {
    Ok(body["id"].as_str().context("an id")?.parse()?)
}

/// What the runs work on.
struct Data {
    community: Uuid,
    /// The read path lists shifts from here on.
    from: DateTime<Utc>,
    /// The read path's shifts, in order of start.
    listed: Vec<Uuid>,
    /// The write path's shifts per round: Huashen's, and the baseline's.
    contested: Vec<(Vec<Uuid>, Vec<Uuid>)>,
    volunteers: Vec<Uuid>,
}

/// Listed shifts each volunteer already holds when the runs start.
const SHIFTS_AHEAD: usize = 3;

/// Signs each volunteer up for `SHIFTS_AHEAD` of the later half of the listed shifts,
/// as volunteers of a community in use are, before its statistics are taken: a
/// sign-up's own statements are then planned for a table that has rows. (On an empty
/// one PostgreSQL may keep a sequential scan as a connection's generic plan for as long
/// as the connection lives.) The later half leaves the shifts that fall due soon, and
/// their reminders, as they were.
async fn sign_up_ahead(
    client: &Client,
    listed: &[Uuid],
    volunteers: &[Uuid],
    concurrency: usize,
) -> anyhow::Result<()> {
    let later = Arc::new(listed[listed.len() / 2..].to_vec());
    let volunteers = Arc::new(volunteers.to_vec());
    let count = volunteers.len() * SHIFTS_AHEAD;
    let c = client.clone();
    let run = load::run(concurrency, Stop::Count(count as u64), move |i| {
        let (client, later, volunteers) = (c.clone(), later.clone(), volunteers.clone());
        async move {
            let i = i as usize;
            // Consecutive shifts for one volunteer: they never overlap.
            let (volunteer, shift) = (volunteers[i / SHIFTS_AHEAD], later[i % later.len()]);
            client.sign_up(shift, volunteer).await.is_ok()
        }
    })
    .await;
    if run.errors > 0 {
        bail!("{} sign-ups ahead failed", run.errors);
    }
    Ok(())
}

/// A community with a station, its shifts and volunteers, created through the API.
async fn seed(client: &Client, sizes: Sizes, concurrency: usize) -> anyhow::Result<Data> {
    let community = id(&client
        .post(
            "/v1/communities",
            json!({"slug": "bench", "name": {"zh-CN": "花神庙社区", "en": "Huashenmiao"},
                   "time_zone": "Asia/Shanghai", "default_locale": "zh-CN"}),
        )
        .await?)?;
    let station = id(&client
        .post(
            "/v1/stations",
            json!({"community_id": community, "kind": "english_corner",
                   "name": {"zh-CN": "英语角", "en": "English Corner"}}),
        )
        .await?)?;
    let from = Utc::now() + chrono::Duration::hours(1);
    let total = sizes.shifts + 2 * sizes.rounds * sizes.contested_shifts;
    let created = Arc::new(std::sync::Mutex::new(vec![Uuid::nil(); total]));
    let (c, sink) = (client.clone(), created.clone());
    let places = sizes.places;
    let listed = sizes.shifts as u64;
    let run = load::run(concurrency, Stop::Count(total as u64), move |i| {
        let (client, sink) = (c.clone(), sink.clone());
        async move {
            // Listed shifts every half hour; contested ones, far ahead, an hour apart.
            let starts_at = if i < listed {
                from + chrono::Duration::minutes(30 * i as i64)
            } else {
                from + chrono::Duration::days(400) + chrono::Duration::hours(i as i64)
            };
            let body = json!({"station_id": station, "starts_at": starts_at,
                "ends_at": starts_at + chrono::Duration::minutes(25),
                "capacity": if i < listed { 10 } else { places }});
            match client.post("/v1/shifts", body).await.and_then(|b| id(&b)) {
                Ok(shift) => {
                    sink.lock().expect("not poisoned")[i as usize] = shift;
                    true
                }
                Err(_) => false,
            }
        }
    })
    .await;
    if run.errors > 0 {
        bail!("{} shifts could not be created", run.errors);
    }
    let shifts = created.lock().expect("not poisoned").clone();
    let listed = shifts[..sizes.shifts].to_vec();
    let contested = shifts[sizes.shifts..]
        .chunks(2 * sizes.contested_shifts)
        .map(|round| {
            let (ours, theirs) = round.split_at(sizes.contested_shifts);
            (ours.to_vec(), theirs.to_vec())
        })
        .collect();

    let people = Arc::new(std::sync::Mutex::new(vec![Uuid::nil(); sizes.signups]));
    let (c, sink) = (client.clone(), people.clone());
    let run = load::run(concurrency, Stop::Count(sizes.signups as u64), move |i| {
        let (client, sink) = (c.clone(), sink.clone());
        async move {
            let body = json!({"community_id": community, "full_name": format!("Volunteer {i}"),
                "email": format!("volunteer{i}@bench.example.cn"), "nationality": "CN",
                "is_volunteer": true});
            match client.post("/v1/people", body).await.and_then(|b| id(&b)) {
                Ok(person) => {
                    sink.lock().expect("not poisoned")[i as usize] = person;
                    true
                }
                Err(_) => false,
            }
        }
    })
    .await;
    if run.errors > 0 {
        bail!("{} volunteers could not be created", run.errors);
    }
    let volunteers = people.lock().expect("not poisoned").clone();
    sign_up_ahead(client, &listed, &volunteers, concurrency).await?;
    Ok(Data {
        community,
        from,
        listed,
        contested,
        volunteers,
    })
}

/// Every path against its baseline on one database.
async fn measure(
    args: &Args,
    sizes: Sizes,
    bins: &Bins,
    kind: &'static str,
) -> anyhow::Result<(Vec<Line>, Option<plan::Planner>)> {
    let wanted = |path| args.paths.contains(&path);
    eprintln!("{kind}: seeding");
    let scratch = Scratch::create(kind, &args.postgres).await?;
    let db = migration::database::connect_and_migrate(&scratch.url).await?;
    let (_, key) = create_key(
        &db,
        NewKey {
            name: "bench".to_owned(),
            role: entities::enums::Role::Admin,
            community_id: None,
            person_id: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating the key: {e}"))?;
    let server = Server::start(&bins.huashen, &scratch.url).await?;
    let watch = cpu::Watch::new(server.child.id(), scratch.database_name());
    let client = Client {
        http: reqwest::Client::new(),
        base: server.url.clone(),
        key: key.clone(),
    };
    let data = seed(&client, sizes, args.concurrency).await?;
    // Statistics, as a database in use has them: without, PostgreSQL plans a page of
    // shifts by sorting them all.
    db.execute_unprepared("ANALYZE").await?;
    let mut lines = Vec::new();

    if wanted(Measured::List) {
        eprintln!("{kind}: list shifts");
        let list = format!(
            "/v1/shifts?community_id={}&from={}&limit=50",
            data.community,
            data.from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let (c, path) = (client.clone(), list.clone());
        let read = move |_| {
            let (client, path) = (c.clone(), path.clone());
            async move {
                match client
                    .http
                    .get(format!("{}{path}", client.base))
                    .bearer_auth(&client.key)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        };
        let raw = baseline::Reads::new(&db, &key, data.community, data.from);
        let raw_read = move |_| {
            let r = raw.clone();
            async move { r.once().await }
        };
        let warm_up = Stop::After(Duration::from_secs(1));
        load::run(args.concurrency, warm_up, read.clone()).await;
        load::run(args.concurrency, warm_up, raw_read.clone()).await;
        // Huashen's and the baseline's turns alternate, so both meet the machine in the
        // same moods, as the sign-ups' rounds do.
        let turn = Stop::After(sizes.timed / sizes.rounds as u32);
        let (mut ours, mut theirs) = (Turns::default(), Turns::default());
        for _ in 0..sizes.rounds {
            ours.take(&watch, load::run(args.concurrency, turn, read.clone()))
                .await;
            theirs
                .take(&watch, load::run(args.concurrency, turn, raw_read.clone()))
                .await;
        }
        lines.push(Line {
            path: "list shifts",
            db: kind,
            who: "huashen",
            run: Run::merged(ours.runs),
            overbooked: None,
            duplicates: None,
            rss_mb: server.peak_rss_mb(),
            cpu: Some(ours.cpu),
        });
        lines.push(Line {
            path: "list shifts",
            db: kind,
            who: "raw sqlx",
            run: Run::merged(theirs.runs),
            overbooked: None,
            duplicates: None,
            rss_mb: None,
            cpu: Some(theirs.cpu),
        });
    }

    if wanted(Measured::Signups) {
        eprintln!("{kind}: contested sign-ups");
        let (mut ours, mut theirs) = (Turns::default(), Turns::default());
        let mut overbooked = (0, 0);
        let writes = baseline::Writes::new(&db);
        let people = Arc::new(data.volunteers.clone());
        for (our_shifts, their_shifts) in &data.contested {
            let c = client.clone();
            ours.take(
                &watch,
                sign_up_round(
                    args.concurrency,
                    sizes.signups,
                    our_shifts,
                    &people,
                    move |shift, person| {
                        let client = c.clone();
                        async move { client.sign_up(shift, person).await.is_ok() }
                    },
                ),
            )
            .await;
            overbooked.0 += baseline::overbooked(&db, our_shifts).await?;
            let w = writes.clone();
            theirs
                .take(
                    &watch,
                    sign_up_round(
                        args.concurrency,
                        sizes.signups,
                        their_shifts,
                        &people,
                        move |shift, person| {
                            let w = w.clone();
                            async move { w.sign_up(shift, person).await }
                        },
                    ),
                )
                .await;
            overbooked.1 += baseline::overbooked(&db, their_shifts).await?;
        }
        lines.push(Line {
            path: "contested sign-ups",
            db: kind,
            who: "huashen",
            run: Run::merged(ours.runs),
            overbooked: Some(overbooked.0),
            duplicates: None,
            rss_mb: server.peak_rss_mb(),
            cpu: Some(ours.cpu),
        });
        lines.push(Line {
            path: "contested sign-ups",
            db: kind,
            who: "raw sqlx",
            run: Run::merged(theirs.runs),
            overbooked: Some(overbooked.1),
            duplicates: None,
            rss_mb: None,
            cpu: Some(theirs.cpu),
        });
    }

    if wanted(Measured::Mail) {
        // Nothing else is due yet, so the worker sends only these welcomes.
        eprintln!("{kind}: mail");
        lines.extend(
            mail::measure(
                &db,
                &scratch,
                &bins.worker,
                data.community,
                sizes.mails,
                sizes.rounds,
                args.mail_concurrency,
                kind,
            )
            .await?,
        );
    }
    seed_due_soon(&client, &data, sizes.due_soon).await?;
    server.stop();

    let planner = if wanted(Measured::Planner) {
        eprintln!("{kind}: planner over {} people", sizes.people);
        Some(
            plan::measure(
                &db,
                &scratch.url,
                &bins.worker,
                data.community,
                // Numbered after the residents the mail path welcomed.
                sizes.mails * sizes.rounds,
                sizes.people,
                kind,
            )
            .await?,
        )
    } else {
        None
    };
    db.close().await?;
    scratch.drop_now().await?;
    Ok((lines, planner))
}

/// One side of a path measured in turns that alternate with the other side's: its runs,
/// and the CPU time the machine spent during them.
#[derive(Default)]
struct Turns {
    runs: Vec<Run>,
    cpu: cpu::Used,
}

impl Turns {
    async fn take(&mut self, watch: &cpu::Watch, turn: impl Future<Output = Run>) {
        let before = watch.used();
        self.runs.push(turn.await);
        self.cpu += watch.used() - before;
    }
}

/// One round of `count` sign-ups through `sign_up(shift, person)`, `concurrency` at a
/// time: volunteer i for shift i mod the number of shifts.
async fn sign_up_round<F, Fut>(
    concurrency: usize,
    count: usize,
    shifts: &[Uuid],
    people: &Arc<Vec<Uuid>>,
    sign_up: F,
) -> Run
where
    F: Fn(Uuid, Uuid) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let (shifts, people) = (shifts.to_vec(), people.clone());
    load::run(concurrency, Stop::Count(count as u64), move |i| {
        sign_up(shifts[i as usize % shifts.len()], people[i as usize])
    })
    .await
}

/// Shifts and events starting within the reminder lead with people signed up, and care
/// plans due today, for the planner to find.
async fn seed_due_soon(client: &Client, data: &Data, due: DueSoon) -> anyhow::Result<()> {
    let mut volunteers = data.volunteers.iter();
    let mut next = || volunteers.next().context("too few volunteers");
    // The listed shifts start half an hour apart from an hour ahead.
    for shift in data.listed.iter().take(due.shifts) {
        for _ in 0..due.per_shift {
            client.sign_up(*shift, *next()?).await?;
        }
    }
    let starts_at = Utc::now() + chrono::Duration::hours(3);
    for n in 0..due.events {
        let event = id(&client
            .post(
                "/v1/events",
                json!({"community_id": data.community, "title": {"en": format!("Dumpling night {n}")},
                       "category": "culture", "starts_at": starts_at,
                       "ends_at": starts_at + chrono::Duration::hours(2),
                       "capacity": due.per_event}),
            )
            .await?)?;
        client
            .post(&format!("/v1/events/{event}/publish"), json!({}))
            .await?;
        for _ in 0..due.per_event {
            client
                .post(
                    &format!("/v1/events/{event}/registrations"),
                    json!({"person_id": next()?}),
                )
                .await?;
        }
    }
    for _ in 0..due.care_plans {
        let (resident, assignee) = (next()?, next()?);
        client
            .post(
                &format!("/v1/people/{resident}/care-plans"),
                json!({"kind": "call", "every_days": 7, "assignee_id": assignee}),
            )
            .await?;
    }
    Ok(())
}

mod baseline {
    //! The same work as Huashen's, as bare SQL on the pool Huashen would use.

    use super::*;

    /// A pool of either kind.
    #[derive(Clone)]
    pub enum Pool {
        Sqlite(sqlx::SqlitePool),
        Postgres(sqlx::PgPool),
    }

    impl Pool {
        fn of(db: &DatabaseConnection) -> Self {
            match db.get_database_backend() {
                sea_orm::DbBackend::Sqlite => Self::Sqlite(db.get_sqlite_connection_pool().clone()),
                _ => Self::Postgres(db.get_postgres_connection_pool().clone()),
            }
        }
    }

    const KEY: &str = "SELECT id, role, community_id, person_id, expires_at FROM api_keys \
        WHERE secret_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)";
    const LIST: &str = "SELECT * FROM shifts WHERE community_id = $1 AND starts_at >= $2 \
        ORDER BY starts_at, id LIMIT 51";

    /// The read path: the key lookup and the page of shifts.
    #[derive(Clone)]
    pub struct Reads {
        pool: Pool,
        hash: String,
        community: Uuid,
        from: DateTime<Utc>,
    }

    impl Reads {
        pub fn new(
            db: &DatabaseConnection,
            key: &str,
            community: Uuid,
            from: DateTime<Utc>,
        ) -> Self {
            Self {
                pool: Pool::of(db),
                hash: entities::token::hash_token(key),
                community,
                from,
            }
        }

        pub async fn once(&self) -> bool {
            let now = Utc::now();
            // One connection for both statements, as a request would hold it.
            macro_rules! on_one_connection {
                ($pool:expr) => {{
                    let Ok(mut conn) = $pool.acquire().await else {
                        return false;
                    };
                    let key = sqlx::query(KEY)
                        .bind(&self.hash)
                        .bind(now)
                        .fetch_optional(&mut *conn)
                        .await;
                    let rows = sqlx::query(LIST)
                        .bind(self.community)
                        .bind(self.from)
                        .fetch_all(&mut *conn)
                        .await;
                    matches!(key, Ok(Some(_))) && rows.is_ok_and(|r| r.len() == 51)
                }};
            }
            match &self.pool {
                Pool::Postgres(pool) => on_one_connection!(pool),
                Pool::Sqlite(pool) => on_one_connection!(pool),
            }
        }
    }

    /// The write path's minimal transaction: lock the shift, count, insert, update the
    /// counter.
    #[derive(Clone)]
    pub struct Writes {
        pool: Pool,
    }

    const LOCK_PG: &str = "SELECT capacity, confirmed_count, waitlist_count, starts_at, ends_at \
        FROM shifts WHERE id = $1 FOR UPDATE";
    const LOCK_SQLITE: &str = "SELECT capacity, confirmed_count, waitlist_count, starts_at, ends_at \
        FROM shifts WHERE id = $1";
    /// A sign-up row carries its shift's times (which PostgreSQL's overlap constraint
    /// checks for confirmed ones, the baseline's as Huashen's).
    const INSERT: &str = "INSERT INTO shift_signups (id, shift_id, person_id, status, \
        waitlist_position, shift_starts_at, shift_ends_at, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";
    const COUNT: &str = "UPDATE shifts SET confirmed_count = $2, waitlist_count = $3, updated_at = $4 WHERE id = $1";

    /// Where a new sign-up lands given the shift's counters.
    fn place(
        capacity: i32,
        confirmed: i32,
        waitlisted: i32,
    ) -> (&'static str, Option<i32>, i32, i32) {
        if confirmed < capacity {
            ("confirmed", None, confirmed + 1, waitlisted)
        } else {
            (
                "waitlisted",
                Some(waitlisted + 1),
                confirmed,
                waitlisted + 1,
            )
        }
    }

    impl Writes {
        pub fn new(db: &DatabaseConnection) -> Self {
            Self { pool: Pool::of(db) }
        }

        pub async fn sign_up(&self, shift: Uuid, person: Uuid) -> bool {
            let now = Utc::now();
            // The transaction once `$tx` has begun and `$lock` reads the shift's counters.
            macro_rules! capacity_transaction {
                ($tx:expr, $lock:expr) => {{
                    let mut tx = $tx;
                    let row = sqlx::query($lock).bind(shift).fetch_one(&mut *tx).await?;
                    let (status, position, confirmed, waitlisted) =
                        place(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                    let times: (DateTime<Utc>, DateTime<Utc>) = (row.try_get(3)?, row.try_get(4)?);
                    sqlx::query(INSERT)
                        .bind(Uuid::now_v7())
                        .bind(shift)
                        .bind(person)
                        .bind(status)
                        .bind(position)
                        .bind(times.0)
                        .bind(times.1)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(COUNT)
                        .bind(shift)
                        .bind(confirmed)
                        .bind(waitlisted)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await
                }};
            }
            let result: Result<(), sqlx::Error> = async {
                match &self.pool {
                    Pool::Postgres(pool) => capacity_transaction!(pool.begin().await?, LOCK_PG),
                    Pool::Sqlite(pool) => capacity_transaction!(
                        pool.begin_with("BEGIN IMMEDIATE").await?,
                        LOCK_SQLITE
                    ),
                }
            }
            .await;
            result.is_ok()
        }
    }

    /// Places taken beyond capacity, counters that disagree with the sign-ups, and
    /// waitlist positions that are not 1, 2, 3…, over `shifts`.
    pub async fn overbooked(db: &DatabaseConnection, shifts: &[Uuid]) -> anyhow::Result<u64> {
        use entities::enums::SignupStatus;
        use entities::{shift, shift_signup};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let mut wrong = 0;
        for id in shifts {
            let shift = shift::Entity::find_by_id(*id)
                .one(db)
                .await?
                .context("a shift")?;
            let signups = shift_signup::Entity::find()
                .filter(shift_signup::Column::ShiftId.eq(*id))
                .all(db)
                .await?;
            let confirmed = signups
                .iter()
                .filter(|s| s.status == SignupStatus::Confirmed)
                .count();
            let mut positions: Vec<i32> = signups
                .iter()
                .filter(|s| s.status == SignupStatus::Waitlisted)
                .filter_map(|s| s.waitlist_position)
                .collect();
            positions.sort_unstable();
            wrong += confirmed.saturating_sub(shift.capacity as usize) as u64;
            wrong += u64::from(confirmed != shift.confirmed_count as usize);
            wrong += u64::from(positions != (1..=positions.len() as i32).collect::<Vec<_>>());
            wrong += u64::from(positions.len() != shift.waitlist_count as usize);
        }
        Ok(wrong)
    }
}

fn print_table(args: &Args, lines: &[Line]) {
    println!(
        "\nhuashen-bench: concurrency {}, {}{}\n",
        args.concurrency,
        if args.smoke {
            "smoke run (numbers mean nothing)"
        } else {
            "full run"
        },
        match std::fs::read_to_string("/proc/cpuinfo") {
            Ok(info) => format!(
                ", {} CPUs",
                info.lines().filter(|l| l.starts_with("processor")).count()
            ),
            Err(_) => String::new(),
        }
    );
    println!(
        "| path | db | who | ops/s | p50 ms | p99 ms | max ms | errors | overbooked | duplicates | ratio | peak RSS MB |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for line in lines {
        let baseline = lines
            .iter()
            .find(|l| l.path == line.path && l.db == line.db && l.who != "huashen");
        let ratio = match baseline {
            Some(b) if line.who == "huashen" => {
                format!("{:.2}", line.run.per_second() / b.run.per_second())
            }
            _ => String::new(),
        };
        let millis = |quantile: Option<f64>| match quantile {
            _ if line.run.latency.is_empty() => String::new(),
            Some(q) => format!("{:.1}", line.run.millis(q)),
            None => format!("{:.1}", line.run.max_millis()),
        };
        let count = |n: Option<u64>| n.map_or(String::new(), |n| n.to_string());
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            line.path,
            line.db,
            line.who,
            line.run.per_second(),
            millis(Some(0.5)),
            millis(Some(0.99)),
            millis(None),
            line.run.errors,
            count(line.overbooked),
            count(line.duplicates),
            ratio,
            line.rss_mb.map_or(String::new(), |m| format!("{m:.0}")),
        );
    }
}

/// Where each run's CPU time went, per operation. It shows what bounds a ratio: a
/// baseline pays only for the database and the bench (and a mail's for its sender).
fn print_cpu(lines: &[Line]) {
    let measured: Vec<_> = lines
        .iter()
        .filter_map(|line| Some((line, line.cpu?)))
        .collect();
    if measured.is_empty() {
        return;
    }
    println!(
        "\n| path | db | who | server or sender CPU µs/op | database CPU µs/op | bench CPU µs/op | idle µs/op |"
    );
    println!("|---|---|---|---:|---:|---:|---:|");
    for (line, used) in measured {
        let per = used.per_operation(line.run.operations);
        println!(
            "| {} | {} | {} | {:.0} | {} | {:.0} | {:.0} |",
            line.path,
            line.db,
            line.who,
            per.process,
            // SQLite runs inside whoever uses it: the server or the bench.
            per.database.map_or("—".to_owned(), |d| format!("{d:.0}")),
            per.bench,
            per.idle,
        );
    }
}

fn print_planners(planners: &[plan::Planner]) {
    if planners.is_empty() {
        return;
    }
    println!(
        "\n| planner | people | rows written | ms | peak RSS MB | again: rows | again: ms | again: peak RSS MB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for p in planners {
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {} | {:.0} | {:.0} |",
            p.db,
            p.people,
            p.first.rows,
            p.first.millis,
            p.first.peak_rss_mb,
            p.again.rows,
            p.again.millis,
            p.again.peak_rss_mb,
        );
    }
}
