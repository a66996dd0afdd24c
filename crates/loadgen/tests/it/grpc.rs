//! The gRPC driver against the real auth service: every call, expected codes, and a held stream.

use std::time::Duration;

use loadgen::driver::grpc::{Call, GrpcStep};
use loadgen::driver::{Drivers, Request};
use loadgen::runner::{Mode, Plan, Step, run};
use loadgen::schedule::{Arrivals, Schedule, Segment};
use tokio_util::sync::CancellationToken;

fn step(name: &str, weight: u32, grpc: GrpcStep, expect: &[&str]) -> Step {
    Step {
        name: name.into(),
        weight,
        request: Request::Grpc(grpc),
        expect: expect.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_succeeds_and_bad_passwords_are_expected_errors() {
    let auth = crate::support::auth(20).await;
    let addr = auth.url.clone();
    let g = |call, username: &str, password: Option<&str>| GrpcStep {
        addr: addr.clone(),
        call,
        username: username.into(),
        password: password.map(str::to_owned),
        hold: Duration::from_millis(500),
    };
    let steps = vec![
        step(
            "login",
            2,
            g(Call::Login, "user-{rand:2:20:4}", None),
            &["OK"],
        ),
        step(
            "validate",
            4,
            g(Call::Validate, "user-{rand:2:20:4}", None),
            &["OK"],
        ),
        step(
            "refresh",
            2,
            g(Call::Refresh, "user-{rand:2:20:4}", None),
            &["OK"],
        ),
        step(
            "logout",
            1,
            g(Call::Logout, "user-{rand:2:20:4}", None),
            &["OK"],
        ),
        // Throttling may answer RESOURCE_EXHAUSTED after 5 failures per user: both are planned.
        step(
            "bad password",
            1,
            g(Call::Login, "user-{rand:2:20:4}", Some("wrong")),
            &["UNAUTHENTICATED", "RESOURCE_EXHAUSTED"],
        ),
        step("stream", 1, g(Call::Stream, "user-0001", None), &["OK"]),
    ];
    let plan = Plan {
        schedule: Schedule::constant(60.0, Duration::from_secs(2)),
        arrivals: Arrivals::Uniform,
        seed: 3,
        segment: Segment::WHOLE,
        mode: Mode::Open {
            max_in_flight: 1000,
            workers: 16,
        },
        steps,
        drain: Duration::from_secs(20),
    };
    let r = run(&plan, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    assert_eq!(r.planned.iter().sum::<u64>(), 120);
    for (i, s) in r.steps.iter().enumerate() {
        assert_eq!(s.unexpected(), 0, "step {i}: {:?}", s.unexpected_errors);
        assert_eq!(s.completed(), r.planned[i], "step {i}");
    }
    let bad = &r.steps[4];
    assert_eq!(
        (bad.ok, bad.expected_errors.values().sum::<u64>()),
        (0, r.planned[4])
    );
    assert!(bad.expected_errors.contains_key("grpc:UNAUTHENTICATED"));
    assert!(r.steps[5].ok > 0, "streams were opened and held");
    auth.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_streams_count_messages_and_report_messages_per_second() {
    let auth = crate::support::auth(20).await;
    let addr = auth.url.clone();
    let g = |call, username: &str| GrpcStep {
        addr: addr.clone(),
        call,
        username: username.into(),
        password: None,
        hold: Duration::from_secs(1),
    };
    // Logins go on while the streams are held; every login is an event each open stream receives.
    let steps = vec![
        step("stream", 1, g(Call::Stream, "user-0001"), &["OK"]),
        step("login", 4, g(Call::Login, "user-{rand:2:20:4}"), &["OK"]),
    ];
    let plan = Plan {
        schedule: Schedule::constant(20.0, Duration::from_secs(2)),
        arrivals: Arrivals::Uniform,
        seed: 5,
        segment: Segment::WHOLE,
        mode: Mode::Open {
            max_in_flight: 1000,
            workers: 16,
        },
        steps,
        drain: Duration::from_secs(20),
    };
    let r = run(&plan, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    let [stream, login] = &r.steps[..] else {
        panic!()
    };
    assert_eq!(stream.unexpected() + login.unexpected(), 0);
    assert_eq!((stream.ok, stream.streams), (r.planned[0], r.planned[0]));
    assert_eq!(login.streams, 0, "only held streams count");
    assert!(
        stream.messages > 0,
        "the streams received the logins' events"
    );
    // Every message is an event the server emitted: at most one per successful login (the
    // streams' own admin logins included) on each stream.
    assert!(
        stream.messages <= stream.streams * (login.ok + stream.ok),
        "{} messages",
        stream.messages
    );

    let report = loadgen::report::Report::new("t", "open", 5, &plan.steps, &r, &[]);
    let st = report.steps[0].stream.as_ref().unwrap();
    assert_eq!((st.streams, st.messages), (stream.streams, stream.messages));
    #[allow(clippy::cast_precision_loss)]
    let per_s = stream.messages as f64 / r.elapsed.as_secs_f64();
    assert!((st.messages_per_s - per_s).abs() < 1e-9);
    assert!(
        st.held_s >= st.streams as f64 * 0.99,
        "each held ~1 s: {}",
        st.held_s
    );
    assert!(st.messages_per_stream_s > 0.0);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["steps"][0]["stream"]["messages_per_s"].is_f64());
    assert!(
        json["steps"][1].get("stream").is_none(),
        "no stream block for plain calls"
    );
    assert!(report.table().contains("messages on"));
    auth.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closed_model_drives_grpc_too() {
    let auth = crate::support::auth(20).await;
    let addr = auth.url.clone();
    let validate = GrpcStep {
        addr,
        call: Call::Validate,
        username: "user-{rand:2:20:4}".into(),
        password: None,
        hold: Duration::from_secs(1),
    };
    let plan = Plan {
        schedule: Schedule::constant(1.0, Duration::from_secs(1)),
        arrivals: Arrivals::Uniform,
        seed: 9,
        segment: Segment::WHOLE,
        mode: Mode::Closed { concurrency: 4 },
        steps: vec![step("validate", 1, validate, &["OK"])],
        drain: Duration::from_secs(10),
    };
    let r = run(&plan, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    let s = &r.steps[0];
    assert!(
        s.ok > 1,
        "back to back, far above the nominal 1/s: {}",
        s.ok
    );
    assert_eq!((s.unexpected(), s.ok, r.abandoned), (0, r.planned[0], 0));
    auth.cancel();
}
