//! Both binaries' OpenAPI documents are what `/openapi.json` serves and `<bin> openapi` prints, and
//! each router serves exactly its documented routes — checked without a broker (no handler runs).

use common::http::api::{Answer, check_routes, check_served};
use events::Intake;
use events::kafka::{Producer, Topics};

use crate::support::{client, consumer_config, kafka_args, prefix, start_consumer};

/// Nothing listens on port 9: the clients connect lazily, and no handler runs to use them.
const NO_BROKER: &str = "127.0.0.1:9";

#[tokio::test]
async fn the_producer_serves_exactly_the_documented_routes() {
    let producer = Producer::new(&kafka_args(NO_BROKER, ""), std::time::Duration::ZERO).unwrap();
    let intake = Intake::new(producer, Topics::new(""), 10);
    let app = events::producer::app(intake, &Default::default(), Default::default());
    let problems = check_routes(app, &events::producer::openapi()).await;
    assert_eq!(problems, Vec::<String>::new());
}

#[tokio::test]
async fn the_consumer_admin_port_serves_exactly_the_documented_routes() {
    let config = consumer_config(events::Role::Analytics, NO_BROKER, &prefix("openapi"));
    let consumer = start_consumer(config).await;
    let http = client();
    let problems = check_served(&events::consumer::admin::openapi(), |method, path| {
        let request = http.request(method, format!("{}{path}", consumer.url));
        async move {
            let r = request.send().await.map_err(|e| e.to_string())?;
            let status = r.status();
            let allow = r
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = r.bytes().await.map_err(|e| e.to_string())?.to_vec();
            Ok(Answer {
                status,
                allow,
                body,
            })
        }
    })
    .await;
    assert_eq!(problems, Vec::<String>::new());
    consumer.cancel();
}

#[test]
fn both_binaries_print_their_document_without_a_broker() {
    let cases = [
        (
            env!("CARGO_BIN_EXE_events-producer"),
            events::producer::openapi(),
        ),
        // No --role: the admin port's document is the same for every role.
        (
            env!("CARGO_BIN_EXE_events-consumer"),
            events::consumer::admin::openapi(),
        ),
    ];
    for (bin, doc) in cases {
        let out = std::process::Command::new(bin)
            .arg("openapi")
            .env("KAFKA_BROKERS", NO_BROKER)
            .output()
            .unwrap();
        assert!(out.status.success(), "{bin}: {out:?}");
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(printed["openapi"], "3.1.0");
        assert_eq!(printed, serde_json::to_value(doc).unwrap(), "{bin}");
    }
}
