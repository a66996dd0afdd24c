//! `lab dev` and `lab dev-down` carried out: the local lab in the foreground until Ctrl-C (optionally
//! watched by OBI), its summary of where everything is, and stopping it from another terminal
//! through its pid file.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cli::DevArgs;
use crate::local::plan::{Plan, Ports};
use crate::local::process::log_tail;
use crate::local::supervisor::{Lab, LabOptions};
use crate::obi::run::ObiOptions;

/// `lab dev`: `--vm` hands over to the OBI VM; otherwise the lab (with OBI first when `--obi`).
pub async fn dev(args: DevArgs, state_dir: Option<&Path>) -> anyhow::Result<()> {
    if args.vm {
        let vm = crate::vm::obi::ObiArgs::for_dev();
        return tokio::task::block_in_place(|| crate::vm::obi::main(&vm, &crate::project_root()?));
    }
    let bin_dir = crate::local::plan::bin_dir_or_default(args.bin_dir)?;
    let ports = if args.free_ports {
        Ports::free()?
    } else {
        Ports::standard()
    };
    let obi = if args.obi {
        Some(crate::obi::exec::options(
            args.obi_bin,
            args.free_ports,
            args.obi_skip_checks,
            args.obi_ready_timeout,
        )?)
    } else {
        None
    };
    let options = LabOptions {
        plan: Plan {
            ports,
            state_dir: crate::local::plan::state_dir_or_default(state_dir)?,
            bin_dir,
            env_overrides: Vec::new(),
        },
        seed_customers: args.seed_customers,
        seed_orders: args.seed_orders,
        ready_timeout: args.ready_timeout,
    };
    up(options, obi).await
}

async fn up(options: LabOptions, obi: Option<ObiOptions>) -> anyhow::Result<()> {
    let plan = options.plan.clone();
    std::fs::create_dir_all(&plan.state_dir)?;
    let pid_file = plan.state_dir.join("lab.pid");
    if let Some(pid) = running_pid(&pid_file) {
        bail!(
            "a lab is already running (pid {pid}, {}); stop it with `just dev-down`",
            pid_file.display()
        );
    }
    std::fs::write(&pid_file, std::process::id().to_string())?;
    let shutdown = common::shutdown::on_signal()?;
    println!("lab: starting in {} …", plan.state_dir.display());
    let started = Instant::now();
    if obi.is_some() {
        println!("lab: OBI first; the services start once its tracer is loaded …");
    }
    let start = async {
        match &obi {
            Some(o) => Lab::start_watched(options, o).await,
            None => Lab::start(options).await,
        }
    };
    let lab = tokio::select! {
        lab = start => lab,
        () = shutdown.cancelled() => {
            let _ = std::fs::remove_file(&pid_file);
            bail!("interrupted during start-up; everything started so far was stopped");
        }
    };
    let lab = match lab {
        Ok(lab) => lab,
        Err(e) => {
            let _ = std::fs::remove_file(&pid_file);
            return Err(e);
        }
    };
    print_summary(&lab, started.elapsed());

    let mut reported = Vec::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let watchers = lab.watchers().map(|w| w.exited()).unwrap_or_default();
        for (name, status) in lab.exited().into_iter().chain(watchers) {
            if !reported.contains(&name) {
                reported.push(name);
                println!(
                    "lab: {name} exited ({status}); the others keep running. End of its log:\n{}",
                    log_tail(&lab.plan.log_file(name), 15)
                );
            }
        }
    }
    println!("lab: stopping services (SIGTERM, drain), then backends …");
    for (name, status) in lab.stop(Duration::from_secs(15)) {
        let status = status.map_or("unknown".into(), |s| s.to_string());
        println!("lab:   {name}: {status}");
    }
    let _ = std::fs::remove_file(&pid_file);
    // `just load` sources lab.env when present: never leave one pointing at a lab that is gone.
    let _ = std::fs::remove_file(plan.state_dir.join("lab.env"));
    println!("lab: stopped.");
    Ok(())
}

fn print_summary(lab: &Lab, took: Duration) {
    let plan = &lab.plan;
    println!("lab: ready in {:.1} s\n", took.as_secs_f64());
    for service in lab.services() {
        println!("  {:<32} {}", service.spec.name, service.spec.url);
    }
    println!();
    println!(
        "  {:<32} {}",
        "PostgreSQL (orders database)",
        plan.database_url()
    );
    println!("  {:<32} {}", "Redis", plan.redis_url());
    println!(
        "  {:<32} {}",
        "Kafka broker (Apache Kafka)",
        plan.kafka_brokers()
    );
    println!();
    println!("  logs:       {}/<name>.log", plan.logs_dir().display());
    println!(
        "  backends:   {0}/postgres/postgres.log, {0}/redis/redis.log, {0}/kafka/kafka.log",
        plan.state_dir.display()
    );
    println!(
        "  client env: {}  (source it when not on the standard ports)",
        plan.state_dir.join("lab.env").display()
    );
    let p = &plan.ports;
    println!("\nTry:");
    println!("  curl -s localhost:{}/products/42", p.catalog);
    println!(
        "  curl -si localhost:{}/products/42 | grep -i x-cache      # MISS, then HIT",
        p.gateway
    );
    println!(
        "  curl -s 'localhost:{}/customers/7/orders?include=items&strategy=n-plus-one'",
        p.orders
    );
    println!(
        "  curl -s localhost:{}/events -H 'content-type: application/json' \\\n      \
         -d '{{\"type\":\"created\",\"order_id\":\"o-1\",\"customer_id\":\"c-1\",\"total\":9.5}}'",
        p.events_producer
    );
    println!(
        "  curl -s localhost:{}/stats                               # analytics",
        p.analytics
    );
    if let Some(w) = lab.watchers() {
        let p = &w.paths;
        println!("\nOBI (eBPF) watches every service and loadgen:");
        println!("  {:<32} {}", "Prometheus", p.prometheus_url);
        println!("  {:<32} {}", "OBI metrics", p.metrics_url);
        println!(
            "  {:<32} {}  (one JSON array of spans per line)",
            "spans",
            p.spans.display()
        );
        println!("  {:<32} {}", "OBI log", p.log.display());
        println!("  {:<32} {}", "OBI config (derived)", p.config.display());
        println!(
            "  curl -s '{}/api/v1/query?query=sum%20by%20(service_name,http_route)(http_server_request_duration_seconds_count)'",
            p.prometheus_url
        );
    }
    println!("\nIn another terminal: `just load spike` (or constant, ramp, mixed).");
    println!("Ctrl-C here, or `just dev-down`, stops everything.");
}

/// Stops the lab whose pid file is in `state_dir`: SIGTERM to the supervisor, which stops the rest.
pub fn dev_down(state_dir: &Path) -> anyhow::Result<()> {
    let pid_file = state_dir.join("lab.pid");
    let Some(pid) = running_pid(&pid_file) else {
        println!(
            "lab: no lab running ({} absent or stale)",
            pid_file.display()
        );
        let _ = std::fs::remove_file(&pid_file);
        return Ok(());
    };
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .context("cannot run `kill`")?;
    println!("lab: asked the lab (pid {pid}) to stop; waiting …");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Path::new(&format!("/proc/{pid}")).exists() {
        if Instant::now() > deadline {
            bail!("the lab (pid {pid}) is still running after 60 s; `kill -9 {pid}` ends it");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("lab: stopped.");
    Ok(())
}

/// The pid in `pid_file` when that process is alive.
fn running_pid(pid_file: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}
