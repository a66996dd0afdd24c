//! What OBI needs from the machine, checked before anything starts: root (it loads eBPF programs and
//! reads other processes), kernel probes (its generic tracer is kprobes on the socket calls) and BTF
//! (CO-RE relocations). Each missing piece is named, with the way out: `--vm` boots a kernel that has
//! them.

use std::path::Path;

/// Where the kernel's facts are read (a test points these at a fake tree).
#[derive(Debug, Clone)]
pub struct Probe<'a> {
    pub root: &'a Path,
    /// The effective uid.
    pub euid: u32,
}

/// Every missing prerequisite, each a sentence (empty = OBI can run here).
pub fn missing(probe: &Probe<'_>) -> Vec<String> {
    let file = |p: &str| probe.root.join(p.trim_start_matches('/'));
    let mut out = Vec::new();
    if probe.euid != 0 {
        out.push(
            "root: OBI loads eBPF programs and reads other processes' memory maps; run \
             `sudo -E just dev --obi` (or as root)"
                .to_owned(),
        );
    }
    if !kprobes(probe.root) {
        out.push(
            "kprobes: this kernel was built without CONFIG_KPROBES (no `register_kprobe` in \
             /proc/kallsyms, no kprobe_events in tracefs); OBI's tracer for non-Go programs \
             attaches kprobes to the kernel's socket calls"
                .to_owned(),
        );
    }
    if !file("/sys/kernel/tracing/available_events").exists()
        && !file("/sys/kernel/debug/tracing/available_events").exists()
    {
        out.push(
            "tracefs: not mounted at /sys/kernel/tracing (OBI falls back to it for probes, and \
             needs it for context propagation); mount it: `mount -t tracefs nodev /sys/kernel/tracing`"
                .to_owned(),
        );
    }
    if !file("/sys/kernel/btf/vmlinux").exists() {
        out.push(
            "BTF: /sys/kernel/btf/vmlinux is missing (a kernel built with CONFIG_DEBUG_INFO_BTF); \
             OBI's eBPF objects are compiled once and relocated against it"
                .to_owned(),
        );
    }
    out
}

/// Whether the kernel has kprobes: tracefs lists `kprobe_events` (where mounted), or the symbol table
/// has `register_kprobe` (readable without mounting anything).
fn kprobes(root: &Path) -> bool {
    let file = |p: &str| root.join(p);
    if file("sys/kernel/tracing/kprobe_events").exists()
        || file("sys/kernel/debug/tracing/kprobe_events").exists()
    {
        return true;
    }
    std::fs::read_to_string(file("proc/kallsyms")).is_ok_and(|syms| {
        syms.lines()
            .any(|l| l.split_whitespace().nth(2) == Some("register_kprobe"))
    })
}

/// The effective uid of this process (from /proc: no libc binding needed for one number).
pub fn euid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                .and_then(|id| id.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

/// The error `lab dev --obi` stops with when something is missing.
pub fn explain(missing: &[String]) -> String {
    format!(
        "OBI cannot run on this machine:\n{}\nOn a Linux machine with a mainstream distribution kernel \
         (which has kprobes and BTF), run as root. Where the kernel lacks them, `--vm` runs the lab \
         and OBI inside a small VM with Debian's kernel.",
        missing
            .iter()
            .map(|m| format!("  - {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> std::path::PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "obi-host-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_kernel_with_everything_passes_as_root() {
        let dir = tree(&[
            ("sys/kernel/btf/vmlinux", ""),
            ("sys/kernel/debug/tracing/available_events", ""),
            (
                "proc/kallsyms",
                "0000000000000000 T tcp_sendmsg\n0000000000000000 T register_kprobe\n",
            ),
        ]);
        assert_eq!(
            missing(&Probe {
                root: &dir,
                euid: 0
            }),
            Vec::<String>::new()
        );
        let tracefs = tree(&[
            ("sys/kernel/btf/vmlinux", ""),
            ("sys/kernel/tracing/available_events", ""),
            ("sys/kernel/tracing/kprobe_events", ""),
        ]);
        assert!(
            missing(&Probe {
                root: &tracefs,
                euid: 0
            })
            .is_empty()
        );
    }

    #[test]
    fn each_missing_piece_is_named_and_the_vm_is_the_way_out() {
        // This machine's kind of kernel: BTF, kprobe helpers in kallsyms, but no register_kprobe.
        let dir = tree(&[("proc/kallsyms", "0 T bpf_get_func_ip_kprobe\n")]);
        let m = missing(&Probe {
            root: &dir,
            euid: 1000,
        });
        assert_eq!(m.len(), 4, "{m:?}");
        assert!(m[0].starts_with("root"));
        assert!(m[1].starts_with("kprobes"));
        assert!(m[2].starts_with("tracefs"));
        assert!(m[3].starts_with("BTF"));
        assert!(explain(&m).contains("--vm"));
    }

    #[test]
    fn this_process_has_an_effective_uid() {
        assert_ne!(euid(), u32::MAX);
    }
}
