//! The order state machine: `PATCH /orders/{id}`, `DELETE /orders/{id}` and a concurrent race.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{assert_problem, start};

#[tokio::test]
async fn an_order_moves_forward_only() {
    let svc = start().await;
    let c = svc.customer("life@example.com").await;
    let id = svc.order(c, 1).await["id"].as_i64().unwrap();
    let path = format!("/orders/{id}");
    for (to, ok) in [
        ("pending", false),
        ("shipped", false),
        ("delivered", false),
        ("paid", true),
        ("paid", false),
        ("pending", false),
        ("shipped", true),
        ("cancelled", false),
        ("paid", false),
        ("delivered", true),
        ("shipped", false),
        ("cancelled", false),
    ] {
        let r = svc.patch(&path, json!({"status": to})).await;
        if ok {
            assert_eq!(r.status, StatusCode::OK, "→ {to}: {}", r.body);
            assert_eq!(r.body["status"], to);
        } else {
            assert_problem(&r, StatusCode::CONFLICT);
        }
    }
    assert_eq!(svc.get(&path).await.body["status"], "delivered");
    assert_problem(
        &svc.patch(&path, json!({"status": "lost"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert_problem(
        &svc.patch("/orders/999999", json!({"status": "paid"})).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn pending_and_paid_orders_can_be_cancelled() {
    let svc = start().await;
    let c = svc.customer("cancel@example.com").await;
    let pending = svc.order(c, 1).await["id"].as_i64().unwrap();
    let paid = svc.order(c, 1).await["id"].as_i64().unwrap();
    svc.patch(&format!("/orders/{paid}"), json!({"status": "paid"}))
        .await;
    assert_eq!(
        svc.patch(
            &format!("/orders/{pending}"),
            json!({"status": "cancelled"})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        svc.delete(&format!("/orders/{paid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        svc.get(&format!("/orders/{paid}")).await.body["status"],
        "cancelled"
    );
    // Cancelling again is idempotent; reviving is not allowed.
    assert_eq!(
        svc.delete(&format!("/orders/{paid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_problem(
        &svc.patch(&format!("/orders/{paid}"), json!({"status": "paid"}))
            .await,
        StatusCode::CONFLICT,
    );
}

#[tokio::test]
async fn shipped_orders_cannot_be_deleted() {
    let svc = start().await;
    let c = svc.customer("shipped@example.com").await;
    let id = svc.order(c, 1).await["id"].as_i64().unwrap();
    let path = format!("/orders/{id}");
    svc.patch(&path, json!({"status": "paid"})).await;
    svc.patch(&path, json!({"status": "shipped"})).await;
    assert_problem(&svc.delete(&path).await, StatusCode::CONFLICT);
    assert_eq!(svc.get(&path).await.body["status"], "shipped");
    assert_eq!(
        svc.counts().await,
        (1, 1, 1),
        "DELETE cancels; it never removes rows"
    );
    assert_problem(&svc.delete("/orders/999999").await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn concurrent_conflicting_transitions_have_exactly_one_winner() {
    let svc = std::sync::Arc::new(start().await);
    let c = svc.customer("race@example.com").await;
    for round in 0..10 {
        let id = svc.order(c, 1).await["id"].as_i64().unwrap();
        let path = format!("/orders/{id}");
        svc.patch(&path, json!({"status": "paid"})).await;
        // From `paid`, both `shipped` and `cancelled` are allowed — but not both.
        let mut tasks = Vec::new();
        for n in 0..8 {
            let (svc, path) = (svc.clone(), path.clone());
            let to = if n % 2 == 0 { "shipped" } else { "cancelled" };
            tasks.push(tokio::spawn(async move {
                (to, svc.patch(&path, json!({"status": to})).await.status)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            let (to, status) = task.await.unwrap();
            match status {
                StatusCode::OK => winners.push(to),
                StatusCode::CONFLICT => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(svc.get(&path).await.body["status"], winners[0]);
    }
}
