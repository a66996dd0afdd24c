//! The guest kernel: Debian 13 (trixie)'s `linux-image-amd64` (6.12.x), which loads OBI's tracer
//! (Debian 12's 6.1 failed in the verifier), fetched once into `${MOP_CACHE}/vm/<release>/` with
//! apt's own client against a temporary sources list, unpacked with `dpkg -x`, modules indexed with
//! `depmod`. The host's apt configuration and `/lib/modules` are never touched.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cmd::Cmd;

/// The suite whose kernel the guest boots.
pub const SUITE: &str = "trixie";
/// The metapackage that depends on the suite's current kernel.
pub const METAPACKAGE: &str = "linux-image-amd64";
const MIRROR: &str = "http://deb.debian.org/debian";
/// Written last into a kernel's folder: its presence means the fetch completed.
const COMPLETE: &str = "complete";

/// A kernel ready to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// Kernel release, e.g. `6.12.117+deb13-amd64` (the folder's name).
    pub release: String,
    pub dir: PathBuf,
}

impl Kernel {
    pub fn vmlinuz(&self) -> PathBuf {
        self.dir
            .join("boot")
            .join(format!("vmlinuz-{}", self.release))
    }

    pub fn modules(&self) -> PathBuf {
        self.dir.join("usr/lib/modules").join(&self.release)
    }
}

/// `<cache>/vm`.
pub fn vm_cache() -> anyhow::Result<PathBuf> {
    Ok(crate::obi::build::cache_root()?.join("vm"))
}

/// The complete kernels in `vm_dir`, newest release first.
pub fn cached(vm_dir: &Path) -> Vec<Kernel> {
    let mut kernels: Vec<Kernel> = std::fs::read_dir(vm_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(COMPLETE).is_file())
        .filter_map(|e| {
            let release = e.file_name().to_str()?.to_owned();
            let k = Kernel {
                release,
                dir: e.path(),
            };
            k.vmlinuz().is_file().then_some(k)
        })
        .collect();
    kernels.sort_by_key(|k| std::cmp::Reverse(version_key(&k.release)));
    kernels
}

/// `6.12.117+deb13-amd64` → `[6, 12, 117]`, for ordering releases.
fn version_key(release: &str) -> Vec<u64> {
    release
        .split(['+', '-'])
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect()
}

/// A cached kernel, or one fetched now (once: later calls find it in the cache).
pub fn ensure(vm_dir: &Path) -> anyhow::Result<Kernel> {
    if let Some(k) = cached(vm_dir).into_iter().next() {
        return Ok(k);
    }
    fetch(vm_dir)
}

/// The apt options that point apt at a private sources list, lists and cache under `work`.
fn apt_options(work: &Path) -> Vec<String> {
    let w = work.display();
    vec![
        format!("-oDir::Etc::SourceList={w}/sources.list"),
        format!("-oDir::Etc::SourceParts={w}/sources.list.d"),
        format!("-oDir::State::Lists={w}/lists"),
        format!("-oDir::Cache={w}/cache"),
        "-oAPT::Architecture=amd64".into(),
        // The download goes to a folder of ours, which apt's unprivileged sandbox user cannot write.
        "-oAPT::Sandbox::User=root".into(),
        "-qq".into(),
    ]
}

/// Downloads the suite's kernel into `<vm_dir>/<release>/`.
pub fn fetch(vm_dir: &Path) -> anyhow::Result<Kernel> {
    let work = vm_dir.join(".apt");
    for sub in ["lists/partial", "cache/archives/partial", "sources.list.d"] {
        std::fs::create_dir_all(work.join(sub))
            .with_context(|| format!("creating {}", work.join(sub).display()))?;
    }
    std::fs::write(
        work.join("sources.list"),
        format!("deb {MIRROR} {SUITE} main\n"),
    )?;
    let opts = apt_options(&work);
    eprintln!(
        "vm: fetching Debian {SUITE}'s kernel ({METAPACKAGE}) into {} …",
        vm_dir.display()
    );
    Cmd::new("apt-get")
        .args(&opts)
        .arg("update")
        .output()
        .map_err(|e| {
            e.context(format!(
                "cannot read Debian {SUITE}'s package lists from {MIRROR} (no network, or no \
                 route to Debian's mirror?): the VM needs its kernel once; run `just vm-kernel` \
                 where the mirror is reachable, or copy a filled {} from another machine",
                vm_dir.display()
            ))
        })?;
    let depends = Cmd::new("apt-cache")
        .args(&opts)
        .args(["depends", METAPACKAGE])
        .output()?;
    let package = image_package(&depends).with_context(|| {
        format!("`apt-cache depends {METAPACKAGE}` names no linux-image package:\n{depends}")
    })?;
    let release = package.trim_start_matches("linux-image-").to_owned();
    let deb_dir = work.join("download");
    std::fs::create_dir_all(&deb_dir)?;
    // `apt-get download` writes into its working folder.
    let out = std::process::Command::new("apt-get")
        .args(&opts)
        .args(["download", &package])
        .current_dir(&deb_dir)
        .output()
        .context("running apt-get download")?;
    if !out.status.success() {
        bail!(
            "downloading {package} from {MIRROR} failed (no network?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let deb = std::fs::read_dir(&deb_dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .with_context(|| format!("apt-get download left no .deb in {}", deb_dir.display()))?;

    let partial = vm_dir.join(format!("{release}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    Cmd::new("dpkg")
        .arg("-x")
        .arg(&deb)
        .arg(&partial)
        .output()
        .context("unpacking the kernel package (dpkg -x)")?;
    // virtme-ng finds the modules at <root>/usr/lib/modules/<release>, next to <root>/boot.
    Cmd::new("depmod")
        .arg("-b")
        .arg(partial.join("usr"))
        .arg(&release)
        .output()
        .map_err(|e| e.context("indexing the kernel's modules (apt-get install kmod)"))?;
    let final_dir = vm_dir.join(&release);
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&partial, &final_dir)?;
    std::fs::write(
        final_dir.join(COMPLETE),
        format!("{package} from {MIRROR} {SUITE}\n"),
    )?;
    let _ = std::fs::remove_dir_all(&deb_dir);
    let kernel = Kernel {
        release,
        dir: final_dir,
    };
    if !kernel.vmlinuz().is_file() || !kernel.modules().join("modules.dep").is_file() {
        bail!(
            "{package} unpacked without {} or its modules.dep",
            kernel.vmlinuz().display()
        );
    }
    eprintln!(
        "vm: kernel {} ready in {}",
        kernel.release,
        kernel.dir.display()
    );
    Ok(kernel)
}

/// `Depends: linux-image-6.12.117+deb13-amd64` → that package name.
pub fn image_package(apt_cache_depends: &str) -> Option<String> {
    apt_cache_depends.lines().find_map(|l| {
        let name = l.trim().strip_prefix("Depends:")?.trim();
        (name.starts_with("linux-image-") && name.ends_with("-amd64")).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_package_is_read_from_apt_cache_depends() {
        let out = "linux-image-amd64\n  Depends: linux-image-6.12.117+deb13-amd64\n";
        assert_eq!(
            image_package(out).as_deref(),
            Some("linux-image-6.12.117+deb13-amd64")
        );
        assert_eq!(image_package("linux-image-amd64\n"), None);
    }

    #[test]
    fn only_complete_kernels_count_newest_first() {
        let dir = std::env::temp_dir().join(format!("mop-vm-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (release, complete) in [
            ("6.12.9+deb13-amd64", true),
            ("6.12.117+deb13-amd64", true),
            ("6.13.1+deb13-amd64", false),
        ] {
            let k = dir.join(release);
            std::fs::create_dir_all(k.join("boot")).unwrap();
            std::fs::write(k.join("boot").join(format!("vmlinuz-{release}")), "").unwrap();
            if complete {
                std::fs::write(k.join(COMPLETE), "").unwrap();
            }
        }
        let found: Vec<String> = cached(&dir).into_iter().map(|k| k.release).collect();
        assert_eq!(found, ["6.12.117+deb13-amd64", "6.12.9+deb13-amd64"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
