//! The Redis driver against a real redis-server: every operation, hit/miss classes, an expected
//! WRONGTYPE, and the commands counted by Redis itself (`INFO commandstats`).

use std::time::Duration;

use loadgen::driver::redis::{Op, RedisStep};
use loadgen::driver::{Drivers, Request};
use loadgen::runner::{Mode, Plan, Step, run};
use loadgen::schedule::{Arrivals, Schedule, Segment};
use tokio_util::sync::CancellationToken;

fn calls(info: &str, cmd: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_reaches_redis_with_hits_misses_and_planned_errors() {
    let server = testkit::redis::RedisServer::start().unwrap();
    let url = server.url().to_owned();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SET")
        .arg("lg:string")
        .arg("x")
        .query_async::<()>(&mut con)
        .await
        .unwrap();
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async::<()>(&mut con)
        .await
        .unwrap();

    let r = |op, key: &str, count| RedisStep {
        url: url.clone(),
        op,
        key: key.into(),
        value_size: 32,
        count,
        ttl: Duration::from_secs(30),
    };
    let step = |name: &str, weight, redis, expect: &[&str]| Step {
        name: name.into(),
        weight,
        request: Request::Redis(redis),
        expect: expect.iter().map(|s| (*s).to_owned()).collect(),
    };
    let steps = vec![
        step("set", 3, r(Op::Set, "lg:{rand:1:50}", 1), &["OK"]),
        // Twice the key range that `set` writes: some hits, some misses.
        step("get", 3, r(Op::Get, "lg:{rand:1:100}", 1), &["HIT", "MISS"]),
        step(
            "mget",
            1,
            r(Op::Mget, "lg:{rand:1:100}", 5),
            &["HIT", "MISS"],
        ),
        step(
            "pipeline",
            1,
            r(Op::Pipeline, "lg:p:{rand:1:50}", 4),
            &["OK"],
        ),
        step("publish", 1, r(Op::Publish, "lg:events", 1), &["OK"]),
        step("wrongtype", 1, r(Op::Lpush, "lg:string", 1), &["WRONGTYPE"]),
    ];
    let plan = Plan {
        schedule: Schedule::constant(200.0, Duration::from_secs(2)),
        arrivals: Arrivals::Uniform,
        seed: 11,
        segment: Segment::WHOLE,
        mode: Mode::Open {
            max_in_flight: 1000,
            workers: 8,
        },
        steps,
        drain: Duration::from_secs(10),
    };
    let result = run(&plan, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    let p = &result.planned;
    assert_eq!(p.iter().sum::<u64>(), 400);
    for (i, s) in result.steps.iter().enumerate() {
        assert_eq!(
            (s.completed(), s.unexpected()),
            (p[i], 0),
            "step {i}: {:?}",
            s.unexpected_errors
        );
    }
    let get = &result.steps[1];
    assert!(
        get.ok_classes.get("redis:HIT").is_some_and(|n| *n > 0)
            && get.ok_classes.get("redis:MISS").is_some_and(|n| *n > 0),
        "{:?}",
        get.ok_classes
    );
    assert_eq!(
        result.steps[5].expected_errors.get("redis:WRONGTYPE"),
        Some(&p[5])
    );

    // What Redis itself counted.
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(calls(&info, "get"), p[1]);
    assert_eq!(calls(&info, "mget"), p[2]);
    assert_eq!(
        calls(&info, "set"),
        p[0] + 4 * p[3],
        "single SETs plus 4 per pipeline"
    );
    assert_eq!(calls(&info, "publish"), p[4]);
    assert_eq!(calls(&info, "lpush"), p[5]);
}
