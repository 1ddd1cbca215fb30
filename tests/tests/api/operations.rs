//! What an operator sees: `/metrics` in the Prometheus text format and request ids.

use chrono::Utc;
use entities::enums::Role;
use huashen_api::limits::Rate;
use huashen_api::state::Settings;
use huashen_tests::smtp::SmtpServer;
use huashen_tests::{Backend, Reply, TestApp, both_backends, id};
use prometheus_parse::{Sample, Scrape, Value as Metric};
use serde_json::json;

use crate::mail::days_ago;

both_backends!(
    metrics_for_prometheus,
    signups_by_path,
    request_ids,
    rate_limits
);

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text format")
}

/// The samples of `metric` whose labels include `labels`.
fn samples<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// The value of the one counter or gauge `metric` with `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match samples(scrape, metric, labels).as_slice() {
        [sample] => match sample.value {
            Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => v,
            ref other => panic!("{metric} is not a number: {other:?}"),
        },
        found => panic!("{metric} {labels:?}: {} samples", found.len()),
    }
}

/// The sum of the counters `metric` whose labels include `labels` (0 when none).
fn total(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    samples(scrape, metric, labels)
        .iter()
        .map(|s| match s.value {
            Metric::Counter(v) | Metric::Untyped(v) => v,
            ref other => panic!("{metric} is not a counter: {other:?}"),
        })
        .sum()
}

/// How many observations the histogram `metric` with `labels` holds.
fn observations(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    samples(scrape, metric, labels)
        .iter()
        .filter_map(|s| match &s.value {
            Metric::Histogram(buckets) => buckets.last().map(|b| b.count),
            _ => None,
        })
        .sum()
}

async fn metrics_for_prometheus(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let shift = id(&app.shift(&station, 48, 1).await);
    let people = app.volunteers(&community, 2).await;
    for (person, status) in [(&people[0], 201), (&people[1], 201), (&people[1], 409)] {
        let reply = app
            .post(
                &format!("/v1/shifts/{shift}/signups"),
                admin,
                json!({"person_id": person}),
            )
            .await;
        assert_eq!(reply.status, status, "{}", reply.text);
    }
    // Moved in yesterday: her welcome is due whatever the hour (it goes out at nine on
    // the moving-in day, local time).
    app.person(
        &community,
        "Emily Carter",
        json!({"moved_in_on": days_ago(1)}),
    )
    .await;
    let smtp = SmtpServer::start().await;
    app.worker(&smtp).tick(Utc::now()).await.unwrap();

    // Never public by accident: the API's `/metrics` wants an admin key.
    app.get("/metrics", None).await.expect_problem(401);
    let organizer = app.key(Role::Organizer, Some(&community), None).await;
    app.get("/metrics", Some(&organizer))
        .await
        .expect_problem(403);
    let reply = app.get("/metrics", admin).await.expect(200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        reply.headers
    );
    let scrape = parse(&reply.text);
    let requests = |operation, status| {
        value(
            &scrape,
            "huashen_http_requests_total",
            &[("operation", operation), ("status", status)],
        )
    };
    // At least: `cargo test` runs other tests in this process too.
    assert!(requests("createSignup", "201") >= 2.0);
    assert!(requests("createSignup", "409") >= 1.0);
    assert!(requests("getMetrics", "401") >= 1.0);
    assert!(
        observations(
            &scrape,
            "huashen_http_request_duration_seconds",
            &[("operation", "createSignup")]
        ) >= 3.0
    );
    for outcome in ["confirmed", "waitlisted", "refused"] {
        assert!(
            total(&scrape, "huashen_signups_total", &[("outcome", outcome)]) >= 1.0,
            "{outcome}"
        );
    }
    // The scrape itself is in flight.
    assert!(value(&scrape, "huashen_http_requests_in_flight", &[]) >= 1.0);
    // The pool keeps the connections the requests above opened, in use or idle.
    let open = value(&scrape, "huashen_db_connections", &[("state", "idle")])
        + value(&scrape, "huashen_db_connections", &[("state", "in_use")]);
    assert!(open >= 1.0, "{open}");
    assert_eq!(
        value(
            &scrape,
            "huashen_notifications",
            &[("kind", "welcome"), ("status", "sent")]
        ),
        1.0
    );
    assert_eq!(value(&scrape, "huashen_mail_queue_depth", &[]), 0.0);
    assert_eq!(
        value(&scrape, "huashen_mail_queue_oldest_due_seconds", &[]),
        0.0
    );
    assert!(observations(&scrape, "huashen_mail_send_duration_seconds", &[]) >= 1.0);
    assert!(observations(&scrape, "huashen_planner_duration_seconds", &[]) >= 1.0);

    // A worker run alone, or an operator's private address: no key there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(huashen_worker::telemetry::serve_metrics(
        listener,
        app.db.clone(),
        std::future::pending(),
    ));
    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        value(
            &parse(&text),
            "huashen_signups_total",
            &[("outcome", "refused")]
        ) >= 1.0
    );
    server.abort();
    app.stop().await;
}

/// On PostgreSQL the common sign-up is one statement; a renewal, one with a webhook to
/// tell and every refusal go through the transaction. SQLite has only the transaction.
async fn signups_by_path(backend: Backend) {
    let settings = Settings {
        webhook_allowed_hosts: vec!["127.0.0.1".to_owned()],
        ..Settings::default()
    };
    let app = TestApp::spawn_with(backend, settings).await;
    let admin = Some(app.admin_key.as_str());
    let community = id(&app.community("hsm").await);
    let station = id(&app.station(&community).await);
    let shift = id(&app.shift(&station, 48, 1).await);
    let people = app.volunteers(&community, 3).await;
    let signups = format!("/v1/shifts/{shift}/signups");
    let sign_up = |person: &str| app.post(&signups, admin, json!({"person_id": person}));
    let scrape = || async { parse(&app.get("/metrics", admin).await.expect(200).text) };
    let before = scrape().await;

    let placed = sign_up(&people[0]).await.expect(201);
    assert_eq!(placed.body["status"], "confirmed", "{}", placed.text);
    let in_line = sign_up(&people[1]).await.expect(201);
    assert_eq!(in_line.body["waitlist_position"], 1, "{}", in_line.text);
    sign_up(&people[0]).await.expect_problem(409);
    app.delete(&format!("/v1/shifts/{shift}/signups/{}", people[1]), admin)
        .await
        .expect(200);
    let back = sign_up(&people[1]).await.expect(201);
    assert_eq!(back.body["waitlist_position"], 1, "{}", back.text);
    app.post(
        "/v1/webhooks",
        admin,
        json!({"community_id": community, "url": "http://127.0.0.1:9/hook", "event_types": ["signup.created"]}),
    )
    .await
    .expect(201);
    let told = sign_up(&people[2]).await.expect(201);
    assert_eq!(told.body["waitlist_position"], 2, "{}", told.text);

    let after = scrape().await;
    let counted = |outcome, path| {
        let labels = [("outcome", outcome), ("path", path)];
        total(&after, "huashen_signups_total", &labels)
            - total(&before, "huashen_signups_total", &labels)
    };
    let one_statement = match backend {
        Backend::Postgres => 1.0,
        Backend::Sqlite => 0.0,
    };
    assert_eq!(counted("confirmed", "one_statement"), one_statement);
    assert_eq!(counted("waitlisted", "one_statement"), one_statement);
    assert_eq!(counted("confirmed", "transaction"), 1.0 - one_statement);
    assert_eq!(counted("waitlisted", "transaction"), 3.0 - one_statement);
    assert_eq!(counted("refused", "transaction"), 1.0);
    assert_eq!(counted("refused", "one_statement"), 0.0);
    let counts = app
        .get(&format!("/v1/shifts/{shift}"), admin)
        .await
        .expect(200);
    assert_eq!(counts.body["confirmed_count"], 1, "{}", counts.text);
    assert_eq!(counts.body["waitlist_count"], 2, "{}", counts.text);
    app.stop().await;
}

async fn request_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let made = app.get("/health/live", None).await.expect(200);
    let id = made
        .header("x-request-id")
        .expect("an X-Request-Id")
        .to_owned();
    assert_eq!(id.len(), 32, "{id}");
    let call = |request_id: &'static str| {
        app.client
            .get(app.url("/v1/communities/not-a-uuid"))
            .bearer_auth(&app.admin_key)
            .header("x-request-id", request_id)
            .send()
    };
    let kept = Reply::read(call("portal-7f3a:1").await.unwrap()).await;
    assert_eq!(kept.status, 404);
    assert_eq!(kept.header("x-request-id"), Some("portal-7f3a:1"));
    assert_eq!(kept.body["request_id"], "portal-7f3a:1");
    let replaced = Reply::read(call("<script>").await.unwrap()).await;
    let made = replaced.header("x-request-id").unwrap();
    assert_ne!(made, "<script>");
    assert_eq!(replaced.body["request_id"], made);
    app.stop().await;
}

/// A token bucket per key, and per address for calls without one; over it, 429 with
/// `Retry-After` and the `RateLimit-*` headers, and invented keys do not escape it.
async fn rate_limits(backend: Backend) {
    let mut settings = Settings::default();
    settings.limits.per_key = Rate {
        per_second: 0.5,
        burst: 5,
    };
    settings.limits.per_ip = Rate {
        per_second: 0.5,
        burst: 3,
    };
    let app = TestApp::spawn_with(backend, settings).await;
    let admin = Some(app.admin_key.as_str());
    let header = |reply: &Reply, name: &str| -> u64 {
        reply
            .header(name)
            .unwrap_or_else(|| panic!("{name}"))
            .parse()
            .unwrap()
    };
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let reply = app.get("/v1/communities", admin).await.expect(200);
        assert_eq!(header(&reply, "ratelimit-limit"), 5);
        remaining.push(header(&reply, "ratelimit-remaining"));
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    let refused = app.get("/v1/communities", admin).await.expect_problem(429);
    assert!(header(&refused, "retry-after") >= 1);
    assert_eq!(header(&refused, "ratelimit-remaining"), 0);
    assert!(header(&refused, "ratelimit-reset") >= 9);
    assert_eq!(
        refused.body["request_id"],
        refused.header("x-request-id").unwrap()
    );
    // Another key has a bucket of its own.
    let other = app.key(Role::Admin, None, None).await;
    app.get("/v1/communities", Some(&other)).await.expect(200);

    // Without a key, the client address's bucket.
    for _ in 0..3 {
        app.get("/health/live", None).await.expect(200);
    }
    app.get("/health/live", None).await.expect_problem(429);
    // Keys made up on the spot are refused, then charged to the address.
    for n in 0..3 {
        app.get("/v1/communities", Some(&format!("hs_invented{n}")))
            .await
            .expect_problem(401);
    }
    app.get("/v1/communities", Some("hs_invented3"))
        .await
        .expect_problem(429);
    // Until the address's bucket refills, every key sent from there waits.
    app.get("/v1/communities", Some(&other))
        .await
        .expect_problem(429);
    app.stop().await;
}
