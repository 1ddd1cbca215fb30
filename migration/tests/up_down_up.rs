//! Every migration's `down` undoes its `up` exactly, on SQLite and PostgreSQL.

mod support;

use migration::Migrator;
use migration::database::connect_for_migrations;
use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

const SQLITE_SCHEMA: &str = "
    SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master
    WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> 'seaql_migrations'";

const POSTGRES_SCHEMA: &str = "
    SELECT 'table ' || table_name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'
    UNION ALL
    SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
        || coalesce(character_maximum_length::text, '') || ' ' || is_nullable || ' '
        || coalesce(column_default, '')
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'
    UNION ALL
    SELECT 'index ' || indexdef FROM pg_indexes
    WHERE schemaname = 'public' AND tablename <> 'seaql_migrations'
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '
        || pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
        AND conrelid::regclass::text <> 'seaql_migrations'";

/// Huashen's tables, columns, indexes and constraints, one sorted line each.
async fn schema(db: &DatabaseConnection) -> Vec<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => SQLITE_SCHEMA,
        _ => POSTGRES_SCHEMA,
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("reading the schema");
    let mut lines: Vec<String> = rows
        .iter()
        .map(|row| row.try_get_by_index(0).expect("a schema line"))
        .collect();
    lines.sort();
    lines
}

/// Like `assert_eq!`, but shows only the lines that differ.
fn assert_same(actual: &[String], expected: &[String], what: &str) {
    let extra: Vec<_> = actual.iter().filter(|l| !expected.contains(l)).collect();
    let missing: Vec<_> = expected.iter().filter(|l| !actual.contains(l)).collect();
    assert!(
        actual == expected,
        "{what}: unexpected {extra:#?}, missing {missing:#?}"
    );
}

fn tables(schema: &[String]) -> Vec<&str> {
    schema
        .iter()
        .filter_map(|line| line.strip_prefix("table "))
        .map(|rest| rest.split(' ').next().unwrap_or_default())
        .collect()
}

async fn up_down_up(db: &DatabaseConnection) {
    let migrations = Migrator::migrations().len();

    Migrator::up(db, None).await.expect("first up");
    let full = schema(db).await;
    assert!(tables(&full).contains(&"people"), "{full:#?}");

    Migrator::down(db, None).await.expect("down all the way");
    assert_eq!(tables(&schema(db).await), Vec::<&str>::new());
    assert_eq!(Migrator::get_applied_migrations(db).await.unwrap().len(), 0);

    Migrator::up(db, None).await.expect("second up");
    let again = schema(db).await;
    assert_eq!(tables(&again), tables(&full));
    assert_same(&again, &full, "second up");

    Migrator::refresh(db).await.expect("refresh");
    assert_same(&schema(db).await, &full, "refresh");

    // Step by step, each down must restore exactly the schema before its up: the
    // full round trip alone would not notice a column or index left on a core table.
    Migrator::down(db, None)
        .await
        .expect("down before stepping");
    let mut steps = vec![schema(db).await];
    for _ in 0..migrations {
        Migrator::up(db, Some(1)).await.expect("one up");
        steps.push(schema(db).await);
    }
    assert_eq!(steps.last(), Some(&full));
    for step in (0..migrations).rev() {
        let name = Migrator::migrations()[step].name().to_owned();
        Migrator::down(db, Some(1)).await.expect("one down");
        assert_same(&schema(db).await, &steps[step], &format!("down of {name}"));
    }
    assert!(steps[0].is_empty(), "{:#?}", steps[0]);
}

#[tokio::test]
async fn sqlite() {
    let dir = support::ScratchDir::new();
    let url = format!("sqlite://{}", dir.path().join("huashen.db").display());
    let db = connect_for_migrations(&url).await.expect("opening SQLite");
    up_down_up(&db).await;
    let _ = db.close().await;
}

#[tokio::test]
async fn postgres() {
    let scratch = support::ScratchPostgres::create().await;
    let url = scratch.url.clone();
    let result = tokio::spawn(async move {
        let db = connect_for_migrations(&url)
            .await
            .expect("connecting to the new database");
        up_down_up(&db).await;
        let _ = db.close().await;
    })
    .await;
    scratch.drop().await;
    result.unwrap();
}
