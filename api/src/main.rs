//! `huashen`: serve the API, migrate, seed the demo, create API keys.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use entities::enums::Role;
use huashen_api::auth::{NewKey, create_key};
use huashen_api::db::{DEFAULT_DATABASE_URL, connect_and_migrate, redact};
use huashen_api::limits::{Limits, Rate};
use huashen_api::state::{AppState, Settings};
use huashen_api::{app, backup, demo};
use huashen_worker::config::MailArgs;
use huashen_worker::{jobs, telemetry};
use uuid::Uuid;

/// mimalloc rather than the system allocator: a page of a list allocates and frees a
/// few hundred small values, and the list answered 10–15 % more requests on it
/// (BENCHMARKS.md). Without transparent huge pages (`no_thp`), which would have taken
/// the server's memory past 64 MB under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "huashen",
    version,
    about = "Volunteers and activities for international residential communities"
)]
struct Cli {
    /// Database: `sqlite://path` (created if missing) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (migrates the database first).
    Serve(Box<ServeArgs>),
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Fill the database with the Huashenmiao demo community; does nothing if it exists.
    SeedDemo,
    /// Create an API key; the secret is printed alone on the last line.
    CreateKey(CreateKeyArgs),
    /// Print the OpenAPI spec (YAML) the API serves; `huashen openapi > openapi.yaml`.
    Openapi,
    /// Write a consistent copy of the SQLite database to a new FILE, while it serves.
    /// (PostgreSQL: pg_dump.)
    Backup {
        /// The new file.
        file: std::path::PathBuf,
    },
    /// Check a backup FILE and make it the SQLite database; stop every process using
    /// the database first. (PostgreSQL: pg_restore.)
    Restore {
        /// The backup.
        file: std::path::PathBuf,
    },
    /// Import residents from a CSV (UTF-8, header row) or JSON-lines file, matched by
    /// email; prints a summary and each row's error; exits 1 if any row failed.
    Import(ImportArgs),
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The community the people belong to.
    #[arg(long)]
    community: Uuid,
    /// The file: `.csv`, or `.jsonl` for JSON lines.
    file: std::path::PathBuf,
    /// Check and report, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// All rows or none: a single error and nothing is written.
    #[arg(long)]
    atomic: bool,
    /// `new-arrivals`: people whose moving-in day is recent or ahead get a welcome
    /// letter; `none`: nobody imported does.
    #[arg(long, value_enum, default_value = "new-arrivals")]
    mail: MailArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum MailArg {
    None,
    NewArrivals,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HUASHEN_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Seed the demo community before serving.
    #[arg(long)]
    demo: bool,
    /// Origins allowed to call the API from a browser, comma-separated; `*` for any.
    #[arg(long, env = "HUASHEN_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "HUASHEN_MAX_BODY_BYTES", default_value_t = Settings::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Largest accepted file to import, in bytes.
    #[arg(long, env = "HUASHEN_MAX_IMPORT_BYTES", default_value_t = Settings::default().max_import_bytes)]
    max_import_bytes: usize,
    /// Seconds a request body may take to arrive (a file to import: ten times this).
    #[arg(long, env = "HUASHEN_BODY_TIMEOUT_SECS", default_value_t = Settings::default().body_timeout.as_secs())]
    body_timeout_secs: u64,
    /// Seconds a connection may sit without a byte either way before it is closed.
    #[arg(long, env = "HUASHEN_IDLE_TIMEOUT_SECS", default_value_t = Settings::default().idle_timeout.as_secs())]
    idle_timeout_secs: u64,
    /// Seconds a request's head (request line and headers) may take once it began.
    #[arg(long, env = "HUASHEN_HEAD_TIMEOUT_SECS", default_value_t = Settings::default().head_timeout.as_secs())]
    head_timeout_secs: u64,
    /// Do not run the mail worker in this process (for API replicas); imports still run.
    #[arg(long)]
    no_worker: bool,
    #[command(flatten)]
    mail: MailArgs,
    /// Volunteers may cancel their own sign-up until this many minutes before the shift.
    #[arg(long, env = "HUASHEN_SELF_CANCEL_LEAD_MINUTES", default_value_t = Settings::default().self_cancel_lead.num_minutes())]
    self_cancel_lead_minutes: i64,
    /// Days a session from an emailed sign-in code lasts.
    #[arg(long, env = "HUASHEN_SESSION_DAYS", default_value_t = Settings::default().session_lifetime.num_days())]
    session_days: i64,
    /// Sign-in, application and new-address mails per address per hour.
    #[arg(long, env = "HUASHEN_LIMIT_MAILS_PER_EMAIL_HOUR", default_value_t = Limits::default().mails_per_email_per_hour)]
    limit_mails_per_email_hour: u32,
    /// Codes tried per address per hour.
    #[arg(
        long,
        env = "HUASHEN_LIMIT_VERIFICATIONS_PER_EMAIL_HOUR",
        default_value_t = Limits::default().verifications_per_email_per_hour
    )]
    limit_verifications_per_email_hour: u32,
    /// Requests to sign-in, verification and applications per client address per minute.
    #[arg(
        long,
        env = "HUASHEN_LIMIT_REQUESTS_PER_IP_MINUTE",
        default_value_t = Limits::default().requests_per_ip_per_minute
    )]
    limit_requests_per_ip_minute: u32,
    /// Requests per second each API key may make on average, in this process.
    #[arg(long, env = "HUASHEN_RATE_PER_KEY", default_value_t = Limits::default().per_key.per_second)]
    rate_per_key: f64,
    /// Requests each API key may make at once, in this process.
    #[arg(long, env = "HUASHEN_BURST_PER_KEY", default_value_t = Limits::default().per_key.burst)]
    burst_per_key: u32,
    /// Requests per second each client address may make without a key, in this process.
    #[arg(long, env = "HUASHEN_RATE_PER_IP", default_value_t = Limits::default().per_ip.per_second)]
    rate_per_ip: f64,
    /// Requests each client address may make at once without a key, in this process.
    #[arg(long, env = "HUASHEN_BURST_PER_IP", default_value_t = Limits::default().per_ip.burst)]
    burst_per_ip: u32,
    /// The smallest group of respondents a survey report shows; smaller ones are
    /// merged or left out so no resident can be picked out.
    #[arg(long, env = "HUASHEN_SURVEY_MIN_GROUP", default_value_t = Settings::default().survey_min_group,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..=1000))]
    survey_min_group: usize,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client,
    /// comma-separated; without them the peer address is the client.
    #[arg(long, env = "HUASHEN_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(clap::Args)]
struct CreateKeyArgs {
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The community of an organizer key.
    #[arg(long)]
    community: Option<Uuid>,
    /// The person a volunteer key acts for.
    #[arg(long)]
    person: Option<Uuid>,
    /// A label to recognise the key by.
    #[arg(long, default_value = "created on the command line")]
    name: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Organizer,
    Volunteer,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Organizer => Role::Organizer,
            RoleArg::Volunteer => Role::Volunteer,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    huashen_worker::telemetry::init_logs("info,sqlx=warn,sea_orm=warn,apalis=warn");
    let cli = Cli::parse();
    match &cli.command {
        Command::Openapi => {
            print!("{}", app::spec_yaml());
            return Ok(());
        }
        Command::Backup { file } => {
            let version = backup::backup(&cli.database_url, file).await?;
            println!("backed up to {} (schema {version})", file.display());
            return Ok(());
        }
        Command::Restore { file } => {
            let version = backup::restore(file, &cli.database_url).await?;
            println!("restored {} (schema {version})", file.display());
            return Ok(());
        }
        _ => {}
    }
    let db = connect_and_migrate(&cli.database_url).await?;
    match cli.command {
        Command::Openapi | Command::Backup { .. } | Command::Restore { .. } => {}
        Command::Migrate => {
            tracing::info!(database = %redact(&cli.database_url), "migrations applied");
        }
        Command::SeedDemo => seed(&db).await?,
        Command::Import(args) => {
            if !import(&db, args).await? {
                std::process::exit(1);
            }
        }
        Command::CreateKey(args) => {
            let (key, secret) = create_key(
                &db,
                NewKey {
                    name: args.name,
                    role: args.role.into(),
                    community_id: args.community,
                    person_id: args.person,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
            println!("created {} key {}", key.role.as_str(), key.id);
            println!("{secret}");
        }
        Command::Serve(args) => {
            if args.demo {
                seed(&db).await?;
            }
            let listener = huashen_api::connections::listen(args.bind)
                .with_context(|| format!("binding {}", args.bind))?;
            tracing::info!(
                address = %listener.local_addr()?,
                database = %redact(&cli.database_url),
                "serving; docs at /docs"
            );
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let until_stopped = move |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            // The queue's tables exist before the worker opens them too.
            let state = AppState::new(
                db.clone(),
                Settings {
                    cors_origins: args.cors_origins,
                    max_body_bytes: args.max_body_bytes,
                    max_import_bytes: args.max_import_bytes,
                    body_timeout: std::time::Duration::from_secs(args.body_timeout_secs.max(1)),
                    idle_timeout: std::time::Duration::from_secs(args.idle_timeout_secs.max(1)),
                    head_timeout: std::time::Duration::from_secs(args.head_timeout_secs.max(1)),
                    self_cancel_lead: chrono::Duration::minutes(args.self_cancel_lead_minutes),
                    webhook_allowed_hosts: args.mail.webhook_allowed_hosts.clone(),
                    session_lifetime: chrono::Duration::days(args.session_days.max(1)),
                    limits: Limits {
                        mails_per_email_per_hour: args.limit_mails_per_email_hour,
                        verifications_per_email_per_hour: args.limit_verifications_per_email_hour,
                        requests_per_ip_per_minute: args.limit_requests_per_ip_minute,
                        per_key: Rate {
                            per_second: args.rate_per_key,
                            burst: args.burst_per_key,
                        },
                        per_ip: Rate {
                            per_second: args.rate_per_ip,
                            burst: args.burst_per_ip,
                        },
                    },
                    trusted_proxies: args.trusted_proxies,
                    frontend: args.mail.frontend(),
                    survey_min_group: args.survey_min_group,
                },
            )
            .await?;
            // Imports follow the api's rules, so every api process runs them; mail only
            // where the worker is embedded.
            let imports = huashen_api::imports::runner(db.clone());
            huashen_api::imports::requeue_waiting(&state).await?;
            let stopped_worker = until_stopped(stopped.clone());
            let worker = if args.no_worker {
                let db = db.clone();
                tokio::spawn(async move { jobs::run_imports(&db, imports, stopped_worker).await })
            } else {
                let worker = args.mail.worker(db.clone())?;
                let schedule = args.mail.plan_schedule.clone();
                tokio::spawn(async move {
                    jobs::run(worker, &schedule, Some(imports), stopped_worker).await
                })
            };
            if let Some(bind) = args.mail.metrics_bind {
                let listener = tokio::net::TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("binding {bind} for metrics"))?;
                tracing::info!(address = %listener.local_addr()?, "metrics at /metrics");
                let (db, stopped) = (db.clone(), until_stopped(stopped.clone()));
                tokio::spawn(telemetry::serve_metrics(listener, db, stopped));
            }
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            app::serve(listener, state, until_stopped(stopped)).await?;
            worker.await??;
            tracing::info!("stopped");
        }
    }
    Ok(())
}

/// Runs an import from the command line; `false` when a row failed.
async fn import(db: &sea_orm::DatabaseConnection, args: ImportArgs) -> anyhow::Result<bool> {
    use std::io::{IsTerminal, Write};

    use huashen_api::imports::{self, ImportFormat, ImportMail, ImportOptions, RowOutcome};
    use sea_orm::EntityTrait;

    let community = entities::community::Entity::find_by_id(args.community)
        .one(db)
        .await?
        .with_context(|| format!("no community {}", args.community))?;
    let data =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let format = match args.file.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "ndjson") => ImportFormat::Jsonl,
        _ => ImportFormat::Csv,
    };
    let options = ImportOptions {
        dry_run: args.dry_run,
        atomic: args.atomic,
        mail: match args.mail {
            MailArg::None => ImportMail::None,
            MailArg::NewArrivals => ImportMail::NewArrivals,
        },
    };
    let failed = |e: huashen_api::error::ApiError| anyhow::anyhow!("{e}: {e:?}");
    let text = imports::text_of(&data).map_err(failed)?;
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |done: usize, total: usize| {
        if terminal {
            let width = 40;
            let filled = (done * width)
                .checked_div(total)
                .unwrap_or(width)
                .min(width);
            eprint!(
                "\r[{}{}] {done}/{total}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            let _ = std::io::stderr().flush();
        }
    };
    let report = imports::import(db, &community, text, format, options, &mut progress)
        .await
        .map_err(failed)?;
    if terminal {
        eprintln!();
    }
    for row in report
        .rows
        .iter()
        .filter(|r| r.outcome == RowOutcome::Error)
    {
        for error in &row.errors {
            println!(
                "row {} ({}): {}: {}",
                row.row,
                row.email.as_deref().unwrap_or("no email"),
                error.field,
                error.message
            );
        }
    }
    let t = &report.totals;
    println!(
        "{} rows: {} created, {} updated, {} unchanged, {} with errors{}",
        t.rows,
        t.created,
        t.updated,
        t.unchanged,
        t.errors,
        if report.written {
            ""
        } else {
            "; nothing written"
        }
    );
    Ok(t.errors == 0)
}

async fn seed(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    match demo::seed(db).await? {
        Some(seeded) => {
            println!(
                "seeded the Huashenmiao demo community {}; sign in as a volunteer with \
                 POST /v1/sign-in {{\"community_id\": \"{}\", \"email\": \"{}\"}} \
                 (the code is in the outbox); its admin key:",
                seeded.community_id, seeded.community_id, seeded.sign_in_email
            );
            println!("{}", seeded.admin_key);
        }
        None => println!("the Huashenmiao demo community is already there"),
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
