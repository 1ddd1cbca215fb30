//! What Huashen says about itself: logs (text, or one JSON object per line with
//! `HUASHEN_LOG_FORMAT=json`) and Prometheus metrics. Counters and histograms are
//! kept in the process as things happen; what the database knows (the ledger by kind
//! and status, the mail queue, the connection pool) is read when metrics are scraped.

use std::future::Future;
use std::sync::OnceLock;

use chrono::Utc;
use entities::enums::{MailKind, NotificationStatus};
use entities::notification;
use metrics::{describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, Iterable, QueryFilter,
    QuerySelect,
};

/// Sets up logging for a binary: `HUASHEN_LOG_FORMAT=json` for one JSON object per
/// line, otherwise human text; `RUST_LOG` filters, else `default_filter`.
pub fn init_logs(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_filter.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("HUASHEN_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

/// Histogram buckets, in seconds: from a fast query to a slow SMTP server.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's metrics recorder, installed on first use.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("fixed, non-empty buckets")
            .install_recorder()
            .expect("one metrics recorder per process");
        describe();
        handle
    })
}

fn describe() {
    describe_counter!(
        "huashen_http_requests_total",
        "HTTP requests answered, by operation id and status."
    );
    describe_histogram!(
        "huashen_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by operation id."
    );
    describe_gauge!(
        "huashen_http_requests_in_flight",
        "HTTP requests being answered now."
    );
    describe_gauge!(
        "huashen_db_connections",
        "Database pool connections, by state (in_use, idle)."
    );
    describe_counter!(
        "huashen_signups_total",
        "Shift sign-up attempts, by outcome (confirmed, waitlisted, refused) and path (one_statement, transaction)."
    );
    describe_gauge!(
        "huashen_notifications",
        "Rows of the mail ledger, by kind and status."
    );
    describe_gauge!("huashen_mail_queue_depth", "Queued mails that are due now.");
    describe_gauge!(
        "huashen_mail_queue_oldest_due_seconds",
        "How long the oldest due, queued mail has waited (0 when none waits)."
    );
    describe_histogram!(
        "huashen_mail_send_duration_seconds",
        metrics::Unit::Seconds,
        "Time to hand one mail to the SMTP server (or the outbox)."
    );
    describe_counter!(
        "huashen_mail_failures_total",
        "Mails the SMTP server did not take, by class (4xx, 5xx, timeout, tls, connection)."
    );
    describe_counter!(
        "huashen_webhook_deliveries_total",
        "Webhook delivery attempts, by outcome (delivered, retrying, failed)."
    );
    describe_histogram!(
        "huashen_planner_duration_seconds",
        metrics::Unit::Seconds,
        "Time of one planner run."
    );
}

/// The metrics in Prometheus text format, with what the database knows read now.
pub async fn render(db: &DatabaseConnection) -> String {
    let handle = recorder();
    if let Err(err) = read_database(db).await {
        tracing::warn!(error = %err, "reading metrics from the database failed");
    }
    handle.render()
}

async fn read_database(db: &DatabaseConnection) -> Result<(), DbErr> {
    let (in_use, idle) = pool_state(db);
    gauge!("huashen_db_connections", "state" => "in_use").set(in_use as f64);
    gauge!("huashen_db_connections", "state" => "idle").set(idle as f64);

    let counts: Vec<(MailKind, NotificationStatus, i64)> = notification::Entity::find()
        .select_only()
        .column(notification::Column::Kind)
        .column(notification::Column::Status)
        .column_as(Expr::col(notification::Column::Id).count(), "rows")
        .group_by(notification::Column::Kind)
        .group_by(notification::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    // Every pair, so a group that emptied reads 0 rather than its last count.
    for kind in MailKind::iter() {
        for status in NotificationStatus::iter() {
            let rows = counts
                .iter()
                .find(|(k, s, _)| (*k, *s) == (kind, status))
                .map_or(0, |(_, _, rows)| *rows);
            gauge!("huashen_notifications", "kind" => kind.as_str(), "status" => status.as_str())
                .set(rows as f64);
        }
    }

    let now = Utc::now();
    let due = notification::Entity::find()
        .filter(notification::Column::Status.eq(NotificationStatus::Queued))
        .filter(notification::Column::DueAt.lte(now));
    let (depth, oldest): (i64, Option<chrono::DateTime<Utc>>) = due
        .select_only()
        .column_as(Expr::col(notification::Column::Id).count(), "depth")
        .column_as(Expr::col(notification::Column::DueAt).min(), "oldest")
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, None));
    gauge!("huashen_mail_queue_depth").set(depth as f64);
    let waited = oldest.map_or(0.0, |due| (now - due).num_milliseconds() as f64 / 1000.0);
    gauge!("huashen_mail_queue_oldest_due_seconds").set(waited.max(0.0));
    Ok(())
}

/// Connections of the pool (in use, idle).
fn pool_state(db: &DatabaseConnection) -> (u32, usize) {
    let (size, idle) = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    };
    (size.saturating_sub(idle as u32), idle)
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes: for a worker run
/// alone, and for the api's `HUASHEN_METRICS_BIND`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    db: DatabaseConnection,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use poem::listener::TcpAcceptor;
    use poem::{EndpointExt, Response, Route, get, handler, web::Data};

    #[handler]
    async fn metrics(db: Data<&DatabaseConnection>) -> Response {
        Response::builder()
            .content_type(CONTENT_TYPE)
            .body(render(&db).await)
    }

    let app = Route::new().at("/metrics", get(metrics)).data(db);
    poem::Server::new_with_acceptor(TcpAcceptor::from_tokio(listener)?)
        .run_with_graceful_shutdown(app, shutdown, None)
        .await
}

/// The media type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
