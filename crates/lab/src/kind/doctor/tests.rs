//! doctor's checks over this machine's real /proc and /sys, and over synthetic trees for each failure.

use super::*;
use std::path::PathBuf;

/// A throw-away host tree under the system temp dir (removed on drop).
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mop-doctor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn file(self, path: &str, text: &str) -> Self {
        let full = self.0.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
        self
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A host that meets every prerequisite.
fn good_tree(name: &str) -> Tree {
    Tree::new(name)
        .file("proc/sys/kernel/osrelease", "6.8.0-45-generic\n")
        .file("sys/kernel/btf/vmlinux", "")
        .file("sys/kernel/tracing/kprobe_events", "")
        .file(
            "proc/mounts",
            "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n",
        )
        .file("proc/sys/fs/inotify/max_user_watches", "524288\n")
        .file("proc/sys/fs/inotify/max_user_instances", "512\n")
}

#[test]
fn this_machines_real_host_is_read_and_judged_like_the_kernel_says() {
    let host = Host::read(Path::new("/"));
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(host.osrelease.as_deref(), Some(release.trim()));
    let uname = Cmd::new("uname").arg("-r").output().unwrap();
    let expected = parse_version(&uname).unwrap() >= (5, 8, 0);
    assert_eq!(kernel(&host).ok, expected, "{}", kernel(&host));
    assert_eq!(btf(&host).ok, Path::new("/sys/kernel/btf/vmlinux").exists());
    let watches: u64 = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(host.max_user_watches, Some(watches));
    let cgroup2_root = std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("cgroup2 /sys/fs/cgroup "));
    assert_eq!(cgroup_v2(&host).ok, cgroup2_root);
    // kprobes, judged independently: the kernel's own config (via zcat/boot) or a kprobe interface.
    let config = Cmd::new("sh")
        .args([
            "-c",
            "zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r) 2>/dev/null || true",
        ])
        .output()
        .unwrap();
    let interface = [
        "/sys/kernel/tracing/kprobe_events",
        "/sys/kernel/debug/tracing/kprobe_events",
        "/sys/bus/event_source/devices/kprobe",
    ]
    .iter()
    .any(|p| Path::new(p).exists());
    let expected = interface || config.lines().any(|l| l == "CONFIG_KPROBES=y");
    assert_eq!(kprobes(&host).ok, expected, "{}", kprobes(&host));
}

#[test]
fn a_good_host_passes_every_host_check() {
    let tree = good_tree("good");
    let host = Host::read(&tree.0);
    for check in [
        kernel(&host),
        btf(&host),
        kprobes(&host),
        cgroup_v2(&host),
        inotify(&host),
    ] {
        assert!(check.ok, "{check}");
    }
}

#[test]
fn each_missing_prerequisite_fails_with_its_fix() {
    let tree = Tree::new("bad")
        .file("proc/sys/kernel/osrelease", "5.4.0-150-generic\n")
        .file(
            "boot/config-5.4.0-150-generic",
            "CONFIG_BPF=y\n# CONFIG_KPROBES is not set\n",
        )
        .file(
            "proc/mounts",
            "tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n",
        )
        .file("proc/sys/fs/inotify/max_user_watches", "8192\n")
        .file("proc/sys/fs/inotify/max_user_instances", "128\n");
    let host = Host::read(&tree.0);
    let checks = [
        kernel(&host),
        btf(&host),
        kprobes(&host),
        cgroup_v2(&host),
        inotify(&host),
    ];
    for check in &checks {
        assert!(!check.ok, "{check}");
    }
    let text: Vec<String> = checks.iter().map(ToString::to_string).collect();
    assert!(
        text[0].contains("5.4.0-150-generic") && text[0].contains("5.8"),
        "{}",
        text[0]
    );
    assert!(text[1].contains("CONFIG_DEBUG_INFO_BTF"), "{}", text[1]);
    assert!(
        text[2].contains("built without CONFIG_KPROBES"),
        "{}",
        text[2]
    );
    assert!(
        text[3].contains("systemd.unified_cgroup_hierarchy=1"),
        "{}",
        text[3]
    );
    assert!(
        text[4].contains("sysctl fs.inotify.max_user_watches=524288"),
        "{}",
        text[4]
    );
    // An unreadable host fails too (nothing assumed).
    let empty = Host::read(&Tree::new("empty").0);
    assert!(!kernel(&empty).ok && !inotify(&empty).ok && !cgroup_v2(&empty).ok);
}

#[test]
fn kprobes_pass_on_the_kernel_config_alone() {
    let tree = good_tree("kconfig");
    std::fs::remove_file(tree.0.join("sys/kernel/tracing/kprobe_events")).unwrap();
    let tree = tree.file("boot/config-6.8.0-45-generic", "CONFIG_KPROBES=y\n");
    assert!(kprobes(&Host::read(&tree.0)).ok);
}

#[test]
fn container_engine_docker_or_podman_when_asked() {
    let tools = |docker, podman, provider: Option<&str>| Tools {
        docker,
        podman,
        provider: provider.map(str::to_owned),
        nix: Probe::Missing,
        engine_kernel: Probe::Missing,
        engine_features: None,
    };
    assert!(container_engine(&tools(Probe::Ok("29.1.0".into()), Probe::Missing, None)).ok);
    let missing = container_engine(&tools(Probe::Missing, Probe::Ok("5.4".into()), None));
    assert!(
        !missing.ok
            && missing
                .fix
                .as_deref()
                .unwrap()
                .contains("KIND_EXPERIMENTAL_PROVIDER=podman")
    );
    assert!(
        container_engine(&tools(
            Probe::Missing,
            Probe::Ok("5.4".into()),
            Some("podman")
        ))
        .ok
    );
    let down = container_engine(&tools(
        Probe::Failed("Cannot connect to the Docker daemon".into()),
        Probe::Missing,
        None,
    ));
    assert!(
        !down.ok
            && down
                .fix
                .as_deref()
                .unwrap()
                .contains("systemctl start docker"),
        "{down}"
    );
    // The real probe agrees with the engine itself (this build machine has a docker CLI, no daemon).
    let answers = ["docker", "podman"]
        .iter()
        .any(|engine| Cmd::new(engine).arg("info").output().is_ok());
    let real = container_engine(&Tools::probe(None, None));
    assert_eq!(real.ok, answers, "{real}");
}

#[test]
fn nix_must_be_at_least_2_31_2() {
    let nix = |probe| {
        super::nix(&Tools {
            docker: Probe::Missing,
            podman: Probe::Missing,
            provider: None,
            nix: probe,
            engine_kernel: Probe::Missing,
            engine_features: None,
        })
    };
    assert!(nix(Probe::Ok("nix (Nix) 2.34.8".into())).ok);
    assert!(nix(Probe::Ok("nix (Determinate Nix 3.8.0) 2.31.2".into())).ok);
    assert!(!nix(Probe::Ok("nix (Nix) 2.8.0".into())).ok);
    assert!(!nix(Probe::Ok("nix (Nix) 2.31.1".into())).ok);
    let missing = nix(Probe::Missing);
    assert!(!missing.ok && missing.fix.unwrap().contains("nixos.org"));
}

#[test]
fn a_port_in_use_fails_unless_our_cluster_holds_it() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = listener.local_addr().unwrap().port();
    let busy = port("Grafana", taken, try_bind(taken), false);
    assert!(
        !busy.ok
            && busy
                .fix
                .as_deref()
                .unwrap()
                .contains(&format!("sport = :{taken}")),
        "{busy}"
    );
    assert!(port("Grafana", taken, try_bind(taken), true).ok);
    drop(listener);
    assert!(port("Grafana", taken, try_bind(taken), false).ok);
}

#[test]
fn versions_parse_from_kernel_and_tool_strings() {
    assert_eq!(parse_version("6.18.44-fc-v657"), Some((6, 18, 44)));
    assert_eq!(parse_version("5.8"), Some((5, 8, 0)));
    assert_eq!(parse_version("2.34.8\n"), Some((2, 34, 8)));
    assert_eq!(parse_version("v1"), None);
}

/// The engine's kernel, as `docker info --format {{.KernelVersion}}` prints it, for a host whose
/// own kernel is `release`.
fn engine(kernel: Probe, features: Option<Probe>) -> Tools {
    Tools {
        docker: Probe::Ok("29.1.0".into()),
        podman: Probe::Missing,
        provider: None,
        nix: Probe::Missing,
        engine_kernel: kernel,
        engine_features: features,
    }
}

#[test]
fn the_engines_kernel_is_judged_not_only_the_hosts() {
    let host = Host {
        osrelease: Some("6.8.0-45-generic".into()),
        ..Host::default()
    };
    // Docker Engine on this host: the host's checks apply.
    let same = engine_kernel(&host, &engine(Probe::Ok("6.8.0-45-generic\n".into()), None));
    assert!(same.ok && same.detail.contains("this host's"), "{same}");
    // Docker Desktop: a VM kernel; judged by what a privileged container sees there.
    let vm = "6.10.14-linuxkit";
    let full = "/sys/kernel/btf/vmlinux\n/sys/bus/event_source/devices/kprobe\n";
    assert!(
        engine_kernel(
            &host,
            &engine(Probe::Ok(vm.into()), Some(Probe::Ok(full.into())))
        )
        .ok
    );
    let no_kprobes = engine_kernel(
        &host,
        &engine(
            Probe::Ok(vm.into()),
            Some(Probe::Ok("/sys/kernel/btf/vmlinux\n".into())),
        ),
    );
    assert!(
        !no_kprobes.ok && no_kprobes.detail.contains("lacks kprobes"),
        "{no_kprobes}"
    );
    let unchecked = engine_kernel(&host, &engine(Probe::Ok(vm.into()), None));
    assert!(!unchecked.ok && unchecked.fix.unwrap().contains("just prefetch"));
    let old = engine_kernel(&host, &engine(Probe::Ok("5.4.0".into()), None));
    assert!(!old.ok && old.detail.contains(">= 5.8"), "{old}");
}

#[test]
fn an_unreachable_engine_says_so_and_what_to_do() {
    // This build machine has the docker CLI and no daemon: the real probe, and the check's words.
    let tools = Tools::probe(Some("x"), None);
    let check = engine_kernel(&Host::default(), &tools);
    let answers = Cmd::new("docker").arg("info").output().is_ok();
    if !answers {
        assert!(!check.ok, "{check}");
        assert!(check.detail.contains("cannot ask the engine"), "{check}");
        assert!(
            check
                .fix
                .as_deref()
                .unwrap()
                .contains("`docker info` must answer"),
            "{check}"
        );
        if let Probe::Failed(e) = &tools.engine_kernel {
            // The daemon's own words end the detail (docker: "Cannot connect to the Docker daemon…").
            assert!(
                check.detail.ends_with(
                    e.lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap()
                        .trim()
                )
            );
        }
    }
}

#[test]
fn the_features_script_reads_like_a_host() {
    let all = parse_features("/sys/kernel/btf/vmlinux\n/sys/kernel/tracing/kprobe_events\n");
    assert!(btf(&all).ok && kprobes(&all).ok);
    let none = parse_features("");
    assert!(!btf(&none).ok && !kprobes(&none).ok);
    // The script itself, run here by sh, lists what this machine has.
    let out = Cmd::new("sh")
        .args(["-c", FEATURES_SCRIPT])
        .output()
        .unwrap();
    assert_eq!(
        parse_features(&out).btf,
        Path::new("/sys/kernel/btf/vmlinux").exists()
    );
}
