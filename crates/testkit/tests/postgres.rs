//! testkit's own tests: the shared server, per-test databases, and stop/restart of a dedicated server.

use sqlx::Connection;
use sqlx::migrate::Migrator;
use testkit::postgres::PgServer;

static MIGRATOR: Migrator = sqlx::migrate!("tests/migrations");

#[tokio::test]
async fn each_test_gets_its_own_migrated_database() {
    let server = PgServer::shared().unwrap();
    let a = server.database(&MIGRATOR).await.unwrap();
    let b = server.database(&MIGRATOR).await.unwrap();
    assert_ne!(a.name, b.name);
    let mut conn = a.connect().await.unwrap();
    sqlx::query("INSERT INTO widgets VALUES (1, 'a')")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut other = b.connect().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM widgets")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(count, 0, "databases must be isolated");
    assert!(a.url().starts_with("postgres://"));
}

#[tokio::test]
async fn a_dedicated_server_can_be_stopped_and_restarted() {
    let server = PgServer::start().unwrap();
    let db = server.database(&MIGRATOR).await.unwrap();
    db.connect().await.unwrap().close().await.unwrap();
    server.stop().unwrap();
    assert!(
        db.connect().await.is_err(),
        "connecting to a stopped server must fail"
    );
    server.restart().unwrap();
    let mut conn = db.connect().await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn pg_stat_statements_is_preloaded() {
    let server = PgServer::shared().unwrap();
    let db = server.database(&MIGRATOR).await.unwrap();
    let mut conn = db.connect().await.unwrap();
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&mut conn)
        .await
        .unwrap();
    let preload: String = sqlx::query_scalar("SHOW shared_preload_libraries")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(preload.contains("pg_stat_statements"));
}
