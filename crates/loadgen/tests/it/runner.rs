//! The runner sends exactly the plan, classifies outcomes, and measures latency from intended time.

use std::sync::atomic::Ordering;
use std::time::Duration;

use loadgen::driver::http::HttpStep;
use loadgen::driver::{Drivers, Request};
use loadgen::runner::{Mode, Plan, Step, run};
use loadgen::schedule::{Arrivals, Schedule, Segment};
use tokio_util::sync::CancellationToken;

use crate::support;

fn step(name: &str, weight: u32, url: String, expect: &[&str]) -> Step {
    Step {
        name: name.into(),
        weight,
        request: Request::Http(HttpStep {
            method: "GET".into(),
            url,
            body: None,
        }),
        expect: expect.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn plan(rate: f64, secs: u64, steps: Vec<Step>, workers: usize) -> Plan {
    Plan {
        schedule: Schedule::constant(rate, Duration::from_secs(secs)),
        arrivals: Arrivals::Uniform,
        seed: 7,
        segment: Segment::WHOLE,
        mode: Mode::Open {
            max_in_flight: 10_000,
            workers,
        },
        steps,
        drain: Duration::from_secs(10),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_exactly_the_planned_number_of_requests() {
    let (server, seen) = support::start().await;
    let addr = server.addr;
    let p = plan(
        100.0,
        2,
        vec![step("ok", 1, format!("http://{addr}/ok"), &["2xx"])],
        16,
    );
    let r = run(&p, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    assert_eq!(r.planned, [200]);
    assert_eq!(
        (r.steps[0].ok, r.steps[0].dropped, r.abandoned),
        (200, 0, 0)
    );
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        200,
        "counted at the server"
    );
    assert_eq!(
        seen.traceparents.load(Ordering::SeqCst),
        200,
        "every request carries a valid traceparent"
    );
    assert_eq!(r.steps[0].slowest.len(), loadgen::stats::SLOWEST_KEPT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_errors_are_kept_apart_from_unexpected_ones() {
    let (server, seen) = support::start().await;
    let addr = server.addr;
    let steps = vec![
        step("ok", 3, format!("http://{addr}/ok"), &["2xx"]),
        step("missing", 1, format!("http://{addr}/missing"), &["404"]),
        step("boom", 1, format!("http://{addr}/boom"), &["2xx"]),
    ];
    let r = run(
        &plan(150.0, 2, steps, 16),
        &Drivers::new().unwrap(),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(r.planned.iter().sum::<u64>(), 300);
    assert!(r.planned.iter().all(|n| *n > 0), "{:?}", r.planned);
    let [ok, missing, boom] = &r.steps[..] else {
        panic!()
    };
    assert_eq!((ok.ok, ok.unexpected()), (r.planned[0], 0));
    assert_eq!(
        (
            missing.ok,
            missing.expected_errors.get("http:404").copied(),
            missing.unexpected()
        ),
        (0, Some(r.planned[1]), 0)
    );
    assert_eq!(
        (boom.ok, boom.unexpected_errors.get("http:500").copied()),
        (0, Some(r.planned[2]))
    );
    assert_eq!(seen.requests.load(Ordering::SeqCst), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_latency_from_intended_time_but_not_from_send_time() {
    let (server, _) = support::start().await;
    let addr = server.addr;
    // One worker, like one connection: while the server stalls for 1 s, later arrivals queue in the
    // generator. Measured from their send time they are fast; a user would have waited up to 1 s.
    let p = plan(
        100.0,
        3,
        vec![step("stall", 1, format!("http://{addr}/stall"), &["2xx"])],
        1,
    );
    let r = run(&p, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    let s = &r.steps[0];
    assert_eq!(s.ok, 300);
    let intended_p99 = Duration::from_micros(s.intended.value_at_quantile(0.99));
    let service_p99 = Duration::from_micros(s.service.value_at_quantile(0.99));
    assert!(
        intended_p99 >= Duration::from_millis(800),
        "intended p99 {intended_p99:?} must show the 1 s stall"
    );
    assert!(
        service_p99 < Duration::from_millis(500),
        "send-time p99 {service_p99:?} hides it (1 of 300 samples)"
    );
    assert!(
        Duration::from_micros(s.service.max()) >= Duration::from_millis(1000),
        "the stalled request itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_instead_of_slowing_the_schedule() {
    let (server, _) = support::start().await;
    let addr = server.addr;
    let mut p = plan(
        100.0,
        3,
        vec![step("stall", 1, format!("http://{addr}/stall"), &["2xx"])],
        1,
    );
    p.mode = Mode::Open {
        max_in_flight: 5,
        workers: 1,
    };
    let r = run(&p, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    let s = &r.steps[0];
    assert_eq!(r.planned, [300], "the schedule itself never slows down");
    assert!(
        s.dropped > 50,
        "~95 arrivals fall into the stall with room for 5: dropped {}",
        s.dropped
    );
    assert_eq!(s.ok + s.dropped, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_mode_runs_back_to_back_for_the_duration() {
    let (server, seen) = support::start().await;
    let addr = server.addr;
    let mut p = plan(
        1.0,
        1,
        vec![step("ok", 1, format!("http://{addr}/ok"), &["2xx"])],
        1,
    );
    p.mode = Mode::Closed { concurrency: 4 };
    let r = run(&p, &Drivers::new().unwrap(), &CancellationToken::new()).await;
    let s = &r.steps[0];
    assert!(s.ok > 10, "far more than the nominal 1/s: {}", s.ok);
    assert_eq!(s.ok, r.planned[0]);
    assert_eq!(seen.requests.load(Ordering::SeqCst), s.ok);
    assert_eq!(seen.traceparents.load(Ordering::SeqCst), s.ok);
    assert_eq!(s.slowest.len(), loadgen::stats::SLOWEST_KEPT);
    assert_eq!(
        r.timeline.iter().map(|h| h.len()).sum::<u64>(),
        s.ok,
        "every completion is on the timeline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_closed_run_stops_and_keeps_what_it_recorded() {
    let (server, seen) = support::start().await;
    let addr = server.addr;
    let mut p = plan(
        1.0,
        600,
        vec![step("ok", 1, format!("http://{addr}/ok"), &["2xx"])],
        1,
    );
    p.mode = Mode::Closed { concurrency: 4 };
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    // Like Ctrl-C some time into a 10-minute run.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });
    let r = run(&p, &Drivers::new().unwrap(), &cancel).await;
    let s = &r.steps[0];
    assert!(s.ok > 0, "what ran before the cancel is in the result");
    // The threads flushed at the cancel: every recorded request really reached the server, and at
    // most the abandoned in-flight ones reached it too.
    let at_server = seen.requests.load(Ordering::SeqCst);
    assert!(
        (s.ok..=s.ok + r.abandoned).contains(&at_server),
        "server {at_server}, ok {}, abandoned {}",
        s.ok,
        r.abandoned
    );
    assert_eq!(r.planned[0], s.ok + r.abandoned);
}
