//! The OpenAPI document is what `/openapi.json` serves and `orders openapi` prints, and the router
//! serves exactly its routes — checked without a database (no handler runs).

use common::http::health::Health;
use orders::config::DbArgs;
use orders::{AppState, db::Db};

#[tokio::test]
async fn the_router_serves_exactly_the_documented_routes() {
    // Nothing listens on port 9: the pool is lazy, and no handler runs to use it.
    let db = Db::new(&DbArgs::new("postgres://postgres@127.0.0.1:9/none")).unwrap();
    db.assume_schema();
    let health = Health::always_ready(Default::default());
    let app = orders::app(AppState { db }, health, &Default::default());
    let doc = orders::openapi();
    assert_eq!(
        common::http::api::check_routes(app, &doc).await,
        Vec::<String>::new()
    );
}

#[test]
fn orders_openapi_prints_the_document_without_a_database() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orders"))
        .arg("openapi")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:9/none")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["openapi"], "3.1.0");
    assert_eq!(printed, serde_json::to_value(orders::openapi()).unwrap());
}
