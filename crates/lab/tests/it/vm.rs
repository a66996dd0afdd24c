//! The VM runner (lab::vm) with the real tools: a guest booted with virtme-ng under TCG runs a command
//! and returns its exit code and files; a kernel that does not boot ends with the console quoted; OBI's
//! scrapes turned into OpenMetrics load into a real Prometheus through promtool.

use std::time::Duration;

use lab::vm::kernel::{self, Kernel};
use lab::vm::recording::{Scrape, to_openmetrics};
use lab::vm::run::VmRun;
use testkit::prometheus::Prometheus;

fn results(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mop-vm-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_guest_runs_a_command_with_kprobes_and_returns_its_exit_code_and_files() {
    let kernel = kernel::ensure(&kernel::vm_cache().unwrap())
        .expect("the guest kernel (scripts/install-deps.sh fetches it: `just vm kernel`)");
    let dir = results("exit");
    let command = format!(
        "echo 'p:mop_it tcp_sendmsg' > /sys/kernel/tracing/kprobe_events && \
         mountpoint -q /sys/fs/bpf && uname -r > {}/uname && exit 3",
        dir.display()
    );
    let mut vm = VmRun::new(
        kernel.clone(),
        dir.clone(),
        command,
        Duration::from_secs(540),
    );
    vm.echo = false;
    let out = vm.run().unwrap();
    assert_eq!(
        out.exit_code,
        3,
        "{}",
        std::fs::read_to_string(dir.join("output.log")).unwrap_or_default()
    );
    let uname = std::fs::read_to_string(dir.join("uname")).unwrap();
    assert_eq!(uname.trim(), kernel.release);
    assert!(out.boot < out.total);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_kernel_that_does_not_boot_ends_with_the_console_quoted() {
    let dir = results("noboot");
    let fake = dir.join("kernel");
    std::fs::create_dir_all(fake.join("boot")).unwrap();
    std::fs::write(fake.join("boot/vmlinuz-0.0.0-fake"), "not a kernel image").unwrap();
    let kernel = Kernel {
        release: "0.0.0-fake".into(),
        dir: fake,
    };
    let mut vm = VmRun::new(
        kernel,
        dir.join("results"),
        "true".into(),
        Duration::from_secs(120),
    );
    vm.echo = false;
    vm.boot_timeout = Duration::from_secs(60);
    let err = format!("{:#}", vm.run().unwrap_err());
    assert!(
        err.contains("did not boot") || err.contains("before the guest ran the command"),
        "{err}"
    );
    assert!(err.contains("console"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two scrapes in the text format OBI serves (TYPE lines, a histogram, a counter, a gauge).
#[test]
fn scrapes_become_openmetrics_that_promtool_backfills_and_prometheus_queries() {
    let scrape = |n: u32| {
        format!(
            "# HELP http_server_request_duration_seconds Duration of HTTP service calls from the server side, in seconds.\n\
             # TYPE http_server_request_duration_seconds histogram\n\
             http_server_request_duration_seconds_bucket{{http_request_method=\"GET\",http_route=\"/items/{{id}}\",service_name=\"pyhttp\",le=\"0.005\"}} {n}\n\
             http_server_request_duration_seconds_bucket{{http_request_method=\"GET\",http_route=\"/items/{{id}}\",service_name=\"pyhttp\",le=\"+Inf\"}} {n}\n\
             http_server_request_duration_seconds_sum{{http_request_method=\"GET\",http_route=\"/items/{{id}}\",service_name=\"pyhttp\"}} 0.1\n\
             http_server_request_duration_seconds_count{{http_request_method=\"GET\",http_route=\"/items/{{id}}\",service_name=\"pyhttp\"}} {n}\n\
             # HELP promhttp_metric_handler_errors_total Total number of internal errors.\n\
             # TYPE promhttp_metric_handler_errors_total counter\n\
             promhttp_metric_handler_errors_total{{cause=\"encoding\"}} 0\n\
             # TYPE obi_build_info gauge\n\
             obi_build_info{{version=\"v0.14.0\"}} 1\n"
        )
    };
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - 600.0;
    let om = to_openmetrics(&[
        Scrape {
            at: end - 30.0,
            text: scrape(4),
        },
        Scrape {
            at: end - 15.0,
            text: scrape(10),
        },
        Scrape {
            at: end,
            text: scrape(17),
        },
    ]);
    let prom = Prometheus::start_with_openmetrics(&om).unwrap();
    let got = prom
        .query(
            "sum(http_server_request_duration_seconds_count{http_route=\"/items/{id}\"}) - sum(http_server_request_duration_seconds_count offset 30s)",
            end,
        )
        .unwrap();
    assert_eq!(got[0].value, 13.0, "{got:?}");
    let info = prom.query("obi_build_info", end).unwrap();
    assert_eq!(info[0].label("version"), "v0.14.0");
}
