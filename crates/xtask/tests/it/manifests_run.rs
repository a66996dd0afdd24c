//! The manifests run against the real binaries: every app container of the rendered kind overlay (and
//! the loadgen Job template) is started from `target/<profile>/<bin>` with exactly its command, args and
//! env, as its UID, in a mount namespace where only its emptyDirs are writable, against real PostgreSQL,
//! Redis and a Kafka-protocol broker from testkit; then its own probes must pass, and SIGTERM must end it
//! with exit 0 within its grace period. See `xtask::tidy::manifests::run` for what is and is not reproduced.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lab::local::plan::sibling_bin_dir;
use lab::manifests::Rendered;
use lab::manifests::pod::{PodTemplate, resolve_env, template_of, templates};
use serde_json::Value;
use sqlx::Connection;
use testkit::kafka::KafkaBroker;
use testkit::postgres::PgServer;
use testkit::redis::RedisServer;
use xtask::tidy::manifests::run::{AddressMap, Launch, Running, launch, start};

use crate::manifests::{loadgen_job, overlay};

fn require_root() {
    assert!(
        testkit::process::running_as_root(),
        "the manifest run test starts each container as its manifest's UID in a read-only mount \
         namespace (unshare --mount, setpriv): run it as root (CI does), e.g. `sudo -E cargo test -p lab \
         --test it manifests_run`"
    );
}

fn bin_dir() -> PathBuf {
    sibling_bin_dir(&std::env::current_exe().unwrap()).unwrap()
}

/// The pod templates that run one of our binaries (image `mop/<bin>:lab`).
fn app_templates(rendered: &Rendered) -> Vec<PodTemplate> {
    let mut all = templates(rendered);
    all.push(template_of(&loadgen_job()).unwrap());
    all.retain(|t| {
        t.spec["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["image"].as_str().is_some_and(|i| i.starts_with("mop/")))
    });
    all
}

/// What the official postgres image does on first start with the StatefulSet's POSTGRES_* variables:
/// a superuser role with that password, owning that database.
async fn init_database(pg: &PgServer, rendered: &Rendered) {
    let sts = template_of(rendered.get("StatefulSet", "postgres").unwrap()).unwrap();
    let env = resolve_env(&sts.spec["containers"][0], "mop", rendered).unwrap();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let (user, password, db) = (
        get("POSTGRES_USER"),
        get("POSTGRES_PASSWORD"),
        get("POSTGRES_DB"),
    );
    let mut admin = sqlx::PgConnection::connect_with(&pg.admin_options())
        .await
        .unwrap();
    // Identifiers from our own manifest, not input: they cannot be bind parameters.
    for sql in [
        format!(r#"CREATE ROLE "{user}" SUPERUSER LOGIN PASSWORD '{password}'"#),
        format!(r#"CREATE DATABASE "{db}" OWNER "{user}""#),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    admin.close().await.unwrap();
}

/// Each pod's address: its own loopback address, as a pod has its own IP.
fn pod_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 77, u8::try_from(i + 1).unwrap(), 1)
}

/// Service → pod mappings for the apps' Services (targetPort resolved against the pod's container ports).
fn map_app_services(
    rendered: &Rendered,
    apps: &[(PodTemplate, Ipv4Addr)],
    addresses: &mut AddressMap,
) {
    for svc in rendered
        .of_kind("Service")
        .filter(|s| s.namespace.as_deref() == Some("mop"))
    {
        let selector = svc
            .value
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or(Value::Null);
        let Some((pod, ip)) = apps.iter().find(|(t, _)| {
            selector.as_object().is_some_and(|sel| {
                !sel.is_empty()
                    && sel
                        .iter()
                        .all(|(k, v)| t.labels.get(k).map(String::as_str) == v.as_str())
            })
        }) else {
            continue;
        };
        for port in svc.value["spec"]["ports"].as_array().unwrap() {
            let service_port = u16::try_from(port["port"].as_u64().unwrap()).unwrap();
            let target = match &port["targetPort"] {
                Value::String(name) => pod
                    .containers()
                    .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                    .find(|p| p["name"] == name.as_str())
                    .and_then(|p| p["containerPort"].as_u64())
                    .unwrap_or_else(|| {
                        panic!(
                            "Service {}: targetPort {name} is no container port",
                            svc.name
                        )
                    }),
                Value::Number(n) => n.as_u64().unwrap(),
                _ => u64::from(service_port),
            };
            addresses.insert(&svc.name, "mop", service_port, format!("{ip}:{target}"));
        }
    }
}

fn started(l: &Launch, logs: &std::path::Path) -> Running {
    let name = l.what.replace([' ', '/'], "_");
    start(l, &logs.join(format!("{name}.log"))).unwrap()
}

/// The process runs as the manifest says: its UID/GID, no-new-privs, no capabilities.
fn check_identity(running: &mut Running) {
    let id = running.identity(Duration::from_secs(10)).unwrap();
    let l = &running.launch;
    assert_eq!(
        (id.uid, id.gid),
        (l.uid, l.gid),
        "{}: runs as {id:?}",
        l.what
    );
    assert!(id.no_new_privs, "{}: no_new_privs is off", l.what);
    assert_eq!(
        id.cap_eff, 0,
        "{}: has capabilities {:x}",
        l.what, id.cap_eff
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_app_container_of_the_kind_overlay_runs_as_its_manifest_says() {
    require_root();
    let _turn = crate::support::turn().await;
    let t0 = Instant::now();
    let rendered = overlay("kind");
    let bins = bin_dir();
    let logs = testkit::process::temp_dir("manifests-run").unwrap();

    // Real backends, in parallel (each blocks until it answers).
    let pg = tokio::task::spawn_blocking(PgServer::start);
    let redis = tokio::task::spawn_blocking(RedisServer::start);
    let kafka = tokio::task::spawn_blocking(KafkaBroker::start);
    let (pg, redis, kafka) = (
        pg.await.unwrap().unwrap(),
        redis.await.unwrap().unwrap(),
        kafka.await.unwrap().unwrap(),
    );
    init_database(&pg, &rendered).await;
    let mut addresses = AddressMap::default();
    let pg_opts = pg.admin_options();
    addresses.insert(
        "postgres",
        "mop",
        5432,
        format!("{}:{}", pg_opts.get_host(), pg_opts.get_port()),
    );
    let redis_addr = redis
        .url()
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    addresses.insert("redis", "mop", 6379, redis_addr);
    addresses.insert("kafka", "mop", 9092, kafka.bootstrap().to_owned());

    let apps: Vec<(PodTemplate, Ipv4Addr)> = app_templates(&rendered)
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, pod_ip(i)))
        .collect();
    map_app_services(&rendered, &apps, &mut addresses);
    let launches: Vec<(&PodTemplate, Launch)> = apps
        .iter()
        .map(|(t, ip)| (t, launch(t, 0, &rendered, &bins, &addresses, *ip).unwrap()))
        .collect();
    let of_kind = |kinds: &[&str]| {
        launches
            .iter()
            .filter(|(t, _)| kinds.contains(&t.kind.as_str()))
            .collect::<Vec<_>>()
    };
    let mut report = Vec::new();

    // 1. The seed Job runs to completion first (the load profiles assume its data).
    for (t, l) in of_kind(&["Job"])
        .into_iter()
        .filter(|(t, _)| t.name == "orders-seed")
    {
        let deadline = Duration::from_secs(
            t.spec
                .get("activeDeadlineSeconds")
                .and_then(Value::as_u64)
                .unwrap_or(600),
        );
        let mut r = started(l, &logs);
        check_identity(&mut r);
        let until = Instant::now() + deadline;
        let status = loop {
            if let Some(s) = r.exited() {
                break s;
            }
            assert!(
                Instant::now() < until,
                "{}: still running after {deadline:?}",
                l.what
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            status.success(),
            "{}: {status}; log:\n{}",
            l.what,
            r.log_tail()
        );
        report.push(format!("{}: exit 0", l.what));
    }

    // 2. The long-running services, all at once (each retries its own backends): probes, then identity.
    let mut services: Vec<Running> = of_kind(&["Deployment", "StatefulSet"])
        .into_iter()
        .map(|(_, l)| started(l, &logs))
        .collect();
    assert_eq!(
        services.len(),
        7,
        "catalog, auth, orders, gateway, events-producer and two consumers"
    );
    for r in &mut services {
        check_identity(r);
        let passed = r.wait_probes(Duration::from_secs(60)).await.unwrap();
        report.push(format!(
            "{}: {} as uid {}; writable only {:?}, wrote {:?}",
            r.launch.what,
            passed.join(", "),
            r.launch.uid,
            r.launch.empty_dirs,
            r.empty_dir_files()
        ));
    }

    // 3. loadgen as the CronJobs and the Job template run it: its args must parse, its profile load
    //    and its traffic reach the services; a few seconds of it, then SIGTERM (it drains and reports).
    for (_, l) in of_kind(&["CronJob"]).into_iter().chain(
        of_kind(&["Job"])
            .into_iter()
            .filter(|(t, _)| t.name == "loadgen"),
    ) {
        let mut r = started(l, &logs);
        check_identity(&mut r);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            r.exited().is_none(),
            "{}: exited early ({:?}); log:\n{}",
            l.what,
            r.exited(),
            r.log_tail()
        );
        let (status, took) = r.terminate().unwrap();
        assert!(
            status.success(),
            "{}: SIGTERM → {status}; log:\n{}",
            l.what,
            r.log_tail()
        );
        // Its report's total row (planned, ok, expected errors, unexpected, dropped): traffic reached
        // the pods through the manifest's addresses, and nothing failed that was not planned to.
        let log = std::fs::read_to_string(&r.log).unwrap();
        let total: Vec<u64> = log
            .lines()
            .find(|l| l.starts_with("total "))
            .unwrap_or_else(|| panic!("{}: no report after SIGTERM:\n{log}", l.what))
            .split_whitespace()
            .skip(1)
            .take(5)
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(
            total[1] > 0 && total[3] == 0,
            "{}: report {total:?}:\n{log}",
            l.what
        );
        report.push(format!(
            "{}: ran {:?} ({} ok, {} expected errors), SIGTERM → exit 0 in {took:?}",
            l.what, l.args, total[1], total[2]
        ));
    }

    // 4. SIGTERM every service: drain, exit 0 within terminationGracePeriodSeconds.
    for r in &mut services {
        let (status, took) = r.terminate().unwrap();
        assert!(
            status.success(),
            "{}: SIGTERM → {status}; log:\n{}",
            r.launch.what,
            r.log_tail()
        );
        report.push(format!(
            "{}: SIGTERM → exit 0 in {took:?} (grace {:?})",
            r.launch.what, r.launch.grace
        ));
    }
    eprintln!("manifest run ({:?}):\n{}", t0.elapsed(), report.join("\n"));
    drop((pg, redis, kafka));
    std::fs::remove_dir_all(logs).unwrap();
}

/// The sandbox itself: a shell run the same way can write its emptyDir and nothing else, as the UID.
#[tokio::test]
async fn the_sandbox_allows_writes_only_in_empty_dirs() {
    require_root();
    let probe_dir = testkit::process::temp_dir("manifests-sandbox").unwrap();
    let outside = probe_dir.join("outside");
    let script = format!(
        "touch /tmp/inside && [ \"$(id -u):$(id -g)\" = 65532:65532 ] && \
         ! touch {} 2>/dev/null && ! touch /var/tmp/mop-sandbox-$$ 2>/dev/null && ! mkdir /mop-x 2>/dev/null",
        outside.display()
    );
    // The directory is world-writable, so only the read-only mount can stop the write.
    std::process::Command::new("chmod")
        .arg("0777")
        .arg(&probe_dir)
        .status()
        .unwrap();
    let l = Launch {
        what: "sandbox self-test".into(),
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script],
        env: vec![],
        uid: 65532,
        gid: 65532,
        empty_dirs: vec![("/tmp".into(), Some(1 << 20))],
        pod_ip: Ipv4Addr::LOCALHOST,
        probes: vec![],
        grace: Duration::from_secs(5),
    };
    let mut r = start(&l, &probe_dir.join("log")).unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = r.exited() {
            break s;
        }
        assert!(Instant::now() < until);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        status.success(),
        "sandbox let a write through or ran as the wrong user: {}",
        r.log_tail()
    );
    assert!(!outside.exists());
    std::fs::remove_dir_all(probe_dir).unwrap();
}
