//! Lists on PostgreSQL read through connections of their own (`huashen_api::reads`):
//! they must recover from connections PostgreSQL dropped, and never hand a request a
//! connection still busy with a statement another request abandoned. (On SQLite the
//! lists read through the pool, as every list test shows.)

use std::time::Duration;

use huashen_api::reads::Reads;
use huashen_tests::{Backend, TestApp, id};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

async fn kill_other_connections(app: &TestApp) {
    app.db
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_answered_after_postgres_drops_their_connections() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let hsm = id(&app.community("hsm").await);
    let station = id(&app.station(&hsm).await);
    for hours in 1..=3 {
        app.shift(&station, hours, 2).await;
    }
    let path = format!("/v1/shifts?community_id={hsm}");
    // Several at once, so that several connections are left idle to be killed.
    let first =
        futures_util::future::join_all((0..4).map(|_| app.get(&path, Some(&app.admin_key)))).await;
    for reply in first {
        assert_eq!(reply.expect(200).body["items"].as_array().unwrap().len(), 3);
    }
    kill_other_connections(&app).await;
    for _ in 0..4 {
        let reply = app.get(&path, Some(&app.admin_key)).await.expect(200);
        assert_eq!(reply.body["items"].as_array().unwrap().len(), 3);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_read_does_not_hold_up_the_next() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let reads = Reads::new(&app.db);
    let statement = |sql: &str| Statement::from_string(DbBackend::Postgres, sql);
    // Leaves one connection idle, so the next read could be handed a busy one.
    reads.query_all(statement("SELECT 1")).await.unwrap();
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        reads.query_all(statement("SELECT pg_sleep(60)")),
    )
    .await;
    assert!(abandoned.is_err(), "the sleep was not abandoned");
    // A connection given back mid-statement would make this wait out the sleep.
    let next = tokio::time::timeout(
        Duration::from_secs(20),
        reads.query_all(statement("SELECT 42 AS n")),
    )
    .await
    .expect("the next read waited for the abandoned one")
    .unwrap();
    assert_eq!(next[0].try_get_by_index::<i32>(0).unwrap(), 42);
    kill_other_connections(&app).await;
    app.stop().await;
}
