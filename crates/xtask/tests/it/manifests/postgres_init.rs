//! What the kind lab's backends and observability pods need to be usable and watched: every
//! observability container probed on its own health endpoint (last test), and PostgreSQL's
//! `pg_stat_statements`. The kind lab's PostgreSQL gets `pg_stat_statements` — preloaded by the StatefulSet's arguments and
//! created by the init script the postgres image runs on an empty data directory — and that script,
//! run against a real PostgreSQL (testkit's, which preloads the library like the StatefulSet does),
//! makes the view the SQL dashboard, postgres-exporter and the sql-* scenario probes read answer.

use sqlx::{Connection, Executor, PgConnection};
use testkit::postgres::PgServer;

use super::*;

#[tokio::test]
async fn the_kind_postgres_creates_pg_stat_statements_on_first_start() {
    let rendered = overlay("kind");
    let sts = rendered.get("StatefulSet", "postgres").unwrap().clone();
    let pg = template_of(&sts).unwrap();
    let container = pg.containers().find(|c| c["name"] == "postgres").unwrap();
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        args.contains(&"shared_preload_libraries=pg_stat_statements"),
        "{args:?}"
    );

    // The image's entrypoint runs *.sql in /docker-entrypoint-initdb.d: a ConfigMap mounted there.
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/docker-entrypoint-initdb.d")
        .expect("an init script folder mounted into postgres");
    let volume = pg.spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let cm = rendered
        .get("ConfigMap", volume["configMap"]["name"].as_str().unwrap())
        .expect("the init ConfigMap is in the render");
    let scripts: Vec<(String, String)> = cm.value["data"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with(".sql"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    assert!(!scripts.is_empty(), "no .sql script in {}", cm.name);

    // Each script as the entrypoint runs it — the orders superuser in a fresh database.
    let server = PgServer::shared().unwrap();
    let mut admin = PgConnection::connect_with(&server.admin_options())
        .await
        .unwrap();
    let db = format!("kind_init_{}", std::process::id());
    admin
        .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {db}"
        ))))
        .await
        .unwrap();
    let mut conn = PgConnection::connect_with(&server.admin_options().database(&db))
        .await
        .unwrap();
    assert!(
        statements(&mut conn).await.is_err(),
        "pg_stat_statements exists before the script"
    );
    for (name, sql) in &scripts {
        // The repository's own script, run as the entrypoint would.
        conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let n = statements(&mut conn)
        .await
        .expect("pg_stat_statements after the init script");
    assert!(n >= 0);
}

async fn statements(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_statements")
        .fetch_one(conn)
        .await
}

#[test]
fn every_long_running_observability_container_has_readiness_and_liveness_probes() {
    // Alloy, Loki, Tempo and the three exporters had readiness probes only (the exporters' a full
    // scrape of their backend); each now has both, on the program's own health endpoint.
    let rendered = overlay("kind");
    let mut seen = 0;
    for t in templates(&rendered) {
        if t.namespace != "observability" || t.kind != "Deployment" {
            continue;
        }
        let main = t.spec["containers"].as_array().unwrap();
        for c in main {
            for probe in ["readinessProbe", "livenessProbe"] {
                let path = c[probe]["httpGet"]["path"].as_str();
                assert!(path.is_some(), "{} {}: no HTTP {probe}", t.owner, c["name"]);
                assert_ne!(
                    path,
                    Some("/metrics"),
                    "{} {probe}: a full scrape is not a health check",
                    t.owner
                );
            }
            seen += 1;
        }
    }
    assert!(seen >= 8, "{seen} containers");
}
