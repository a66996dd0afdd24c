//! SQL injection attempts in every string parameter: each is treated as data, changes nothing, and
//! gets an ordinary answer (200, 4xx) — never a 500.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::start;

const PAYLOADS: &[&str] = &[
    "'; DROP TABLE orders; --",
    "' OR '1'='1",
    "x' UNION SELECT id, name, email, 1, 1, now() FROM customers --",
    "%",
    "_",
    "\\",
    "\"; DELETE FROM customers; --",
    "1; UPDATE orders SET status = 'delivered'",
    "$1",
];

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn injection_attempts_change_nothing() {
    let svc = start().await;
    let c = svc.customer("victim@example.com").await;
    let order = svc.order(c, 2).await["id"].as_i64().unwrap();
    let before = svc.counts().await;

    for payload in PAYLOADS {
        let p = encode(payload);
        // Query-string parameters: searches find nothing (no email contains these characters
        // literally — `%` and `_` are escaped, not wildcards), typed parameters are 400.
        let r = svc
            .get(&format!("/customers/search?email_contains={p}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{payload}: {}", r.body);
        assert_eq!(r.body, json!([]), "{payload} matched something");
        let r = svc
            .get(&format!("/customers/lookup?email_prefix={p}"))
            .await;
        assert!(
            r.status == StatusCode::OK && r.body == json!([]),
            "{payload}: {} {}",
            r.status,
            r.body
        );
        let r = svc
            .get(&format!("/customers/lookup?email={p}@example.com"))
            .await;
        match r.status {
            StatusCode::OK => assert_eq!(r.body, json!([]), "{payload}"),
            other => assert_eq!(other, StatusCode::UNPROCESSABLE_ENTITY, "{payload}"),
        }
        for param in ["status", "from", "to", "customer_id", "page", "per_page"] {
            let r = svc.get(&format!("/orders?{param}={p}")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{param}={payload}");
        }
        for param in ["include", "strategy", "page"] {
            let r = svc.get(&format!("/customers/{c}/orders?{param}={p}")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{param}={payload}");
        }
        for path in [
            "/reports/top-customers?limit=",
            "/reports/daily-revenue?days=",
        ] {
            assert_eq!(
                svc.get(&format!("{path}{p}")).await.status,
                StatusCode::BAD_REQUEST
            );
        }
        // Path parameters.
        assert_eq!(
            svc.get(&format!("/orders/{p}")).await.status.as_u16() / 100,
            4
        );
        assert_eq!(
            svc.get(&format!("/customers/{p}")).await.status.as_u16() / 100,
            4
        );
        // Body fields: stored verbatim as data, or rejected.
        let r = svc
            .patch(&format!("/orders/{order}"), json!({"status": payload}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = svc
            .post("/orders", json!({"customer_id": c, "items": [{"product_id": 1, "quantity": 1, "price": payload}]}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(svc.counts().await, before, "no row was added or removed");

    // A name full of SQL is just a name.
    let name = "Robert'); DROP TABLE customers; --";
    let r = svc
        .post(
            "/customers",
            json!({"name": name, "email": "bobby@tables.example"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let got = svc.get(&format!("/customers/{}", r.body["id"])).await;
    assert_eq!(got.body["name"], name);
    let r = svc
        .post(
            "/customers",
            json!({"name": "x", "email": "a'--@example.com"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "quotes are legal in an email's local part"
    );
    let found = svc.get("/customers/search?email_contains='--").await;
    assert_eq!(found.body[0]["email"], "a'--@example.com");

    // Tables and rows intact, statuses untouched.
    let mut conn = svc.sql().await;
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM orders")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(statuses, vec!["pending"]);
    assert_eq!(svc.counts().await, (before.0 + 2, before.1, before.2));
}
