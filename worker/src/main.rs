//! `huashen-worker`: plan and send Huashen's mail.

use chrono::Utc;
use clap::{Parser, Subcommand};
use huashen_worker::config::MailArgs;
use huashen_worker::{Outcome, jobs, telemetry};
use migration::database::{DEFAULT_DATABASE_URL, connect_and_migrate};

/// mimalloc rather than the system allocator: each mail allocates and frees many small
/// values (its rows, its template's context, the message), and on glibc's allocator
/// about a third of the worker's time went to `malloc` and `free`; on mimalloc it
/// spends about an eighth less CPU a mail (BENCHMARKS.md), as the API does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`, which libmimalloc-sys does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Has mimalloc give memory freed back to the system at once rather than a second later:
/// with the delay, the worker's peak memory while sending 10,000 mails came to 62–63 MB,
/// without it 46–55 MB, at the same speed.
#[allow(unsafe_code)]
fn purge_freed_memory_at_once() {
    // SAFETY: sets one integer option, which mimalloc reads atomically; no memory is
    // passed.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

#[derive(Parser)]
#[command(
    name = "huashen-worker",
    version,
    about = "Plans and sends Huashen's mail"
)]
struct Cli {
    /// Database: `sqlite://path` or `postgres://user@host/db`, the same as the API's.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    #[command(flatten)]
    mail: MailArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run until SIGINT or SIGTERM: plan on schedule, send from the mail queue.
    Run,
    /// Plan once, send everything due, and exit (for cron and tests).
    Tick,
    /// Plan once without sending and exit, saying how many mails and how long it took.
    Plan,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    purge_freed_memory_at_once();
    huashen_worker::telemetry::init_logs("info,sqlx=warn,sea_orm=warn,apalis=warn");
    let cli = Cli::parse();
    let db = connect_and_migrate(&cli.database_url).await?;
    let worker = cli.mail.worker(db)?;
    match cli.command {
        // Imports follow the api's rules: `huashen serve` runs them.
        Command::Run => {
            if let Some(bind) = cli.mail.metrics_bind {
                let listener = tokio::net::TcpListener::bind(bind).await?;
                tracing::info!(address = %listener.local_addr()?, "metrics at /metrics");
                let db = worker.db.clone();
                tokio::spawn(telemetry::serve_metrics(
                    listener,
                    db,
                    std::future::pending(),
                ));
            }
            jobs::run(worker, &cli.mail.plan_schedule, None, shutdown_signal()).await
        }
        Command::Plan => {
            let started = std::time::Instant::now();
            let planned =
                huashen_worker::planner::plan(&worker.db, worker.plan_settings(), Utc::now())
                    .await?;
            println!(
                "planned {planned} in {:.0} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
            Ok(())
        }
        Command::Tick => {
            let report = worker.tick(Utc::now()).await?;
            let count = |f: fn(&Outcome) -> bool| report.outcomes.iter().filter(|o| f(o)).count();
            println!(
                "planned {}, sent {}, retrying {}, failed {}, skipped {}, missed {}",
                report.planned,
                count(|o| matches!(o, Outcome::Sent)),
                count(|o| matches!(o, Outcome::Retrying(_))),
                count(|o| matches!(o, Outcome::Failed(_))),
                count(|o| matches!(o, Outcome::Skipped(_))),
                count(|o| matches!(o, Outcome::Missed(_))),
            );
            Ok(())
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option set is the purge delay: it starts at that option's default in the
    /// mimalloc built (v3: 1,000 ms, which no other option has), and reads 0 once set.
    #[test]
    #[allow(unsafe_code)]
    fn the_option_set_is_mimallocs_purge_delay() {
        // SAFETY: reads one integer option.
        let read = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(read(), 1000);
        }
        purge_freed_memory_at_once();
        assert_eq!(read(), 0);
    }
}
