//! The Kafka driver against a real Apache Kafka broker (testkit): acknowledged events and planned
//! poison records, checked by reading the topic back.

use std::time::{Duration, Instant};

use loadgen::driver::kafka::KafkaStep;
use loadgen::driver::{Drivers, Request};
use loadgen::runner::{Mode, Plan, Step, run};
use loadgen::schedule::{Arrivals, Schedule, Segment};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

pub const PARTITIONS: i32 = 3;

/// Creates `topic` with [`PARTITIONS`] partitions, as the lab's topics have.
pub async fn create_topic(brokers: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let new = NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1));
    admin
        .create_topics([&new], &AdminOptions::new())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_planned_poison_reach_the_topic() {
    let broker = testkit::kafka::KafkaBroker::shared().unwrap();
    let brokers = broker.bootstrap().to_owned();
    let topic = format!("lg{}.orders.created", std::process::id());
    create_topic(&brokers, &topic).await;

    let step = Step {
        name: "order created".into(),
        weight: 1,
        request: Request::Kafka(KafkaStep {
            brokers: brokers.clone(),
            topic: topic.clone(),
            poison_ratio: 0.25,
            order_id: "o-{rand:1:50}".into(),
            customer_id: "c-{rand:1:10}".into(),
        }),
        expect: vec!["kafka:OK".into(), "kafka:POISON".into()],
    };
    let plan = Plan {
        schedule: Schedule::constant(50.0, Duration::from_secs(2)),
        arrivals: Arrivals::Uniform,
        seed: 9,
        segment: Segment::WHOLE,
        mode: Mode::Open {
            max_in_flight: 1000,
            workers: 8,
        },
        steps: vec![step],
        drain: Duration::from_secs(30),
    };
    let r = run(&plan, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    let s = &r.steps[0];
    assert_eq!(
        (s.completed(), s.unexpected()),
        (100, 0),
        "{:?}",
        s.unexpected_errors
    );
    let ok = s.ok_classes.get("kafka:OK").copied().unwrap_or(0);
    let poison = s.ok_classes.get("kafka:POISON").copied().unwrap_or(0);
    assert!(
        poison > 5 && ok > 50,
        "about a quarter poison: ok {ok}, poison {poison}"
    );

    // Read everything back: the acknowledged records are there, decodable or poison as sent.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "loadgen-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(&topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let (mut events, mut poisoned) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(30);
    while events + poisoned < 100 && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            match serde_json::from_slice::<serde_json::Value>(m.payload().unwrap_or_default()) {
                Ok(v) if v["type"] == "created" && v["event_id"].is_string() => events += 1,
                _ => poisoned += 1,
            }
        }
    }
    assert_eq!(
        (events, poisoned),
        (ok, poison),
        "what the broker holds is what was acknowledged"
    );
}
