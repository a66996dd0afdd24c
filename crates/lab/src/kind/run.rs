//! Carries out a [`plan`](super::plan)'s steps with [`crate::cmd`]: kind, kubectl, nix and the
//! container engine. Every kubectl call names the `kind-mop` context, never the user's current one.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use super::kube::{self, apply_phase, wait_obi};
use super::objects::{self, Object, Phase, Wait};
use super::plan::Step;
use super::{CLUSTER, CONTEXT, HOST_PORTS, Paths, doctor, images, job, kubectl};
use crate::cmd::Cmd;

/// How long one rollout or Job may take (image pulls on a cold node dominate).
const READY_TIMEOUT: &str = "600s";

/// Runs steps in order, keeping the render for the steps after it.
pub struct Runner {
    paths: Paths,
    objects: Option<Vec<Object>>,
    /// bin → Nix store hash of the image just built (annotates the pod templates that run it).
    builds: BTreeMap<String, String>,
    pub skip_doctor: bool,
}

impl Runner {
    pub fn new(paths: Paths) -> Self {
        Self {
            paths,
            objects: None,
            builds: BTreeMap::new(),
            skip_doctor: false,
        }
    }

    /// Runs every step; returns the exit code a step decided (loadgen's), if any.
    pub fn run(&mut self, steps: &[Step]) -> anyhow::Result<Option<i32>> {
        for (i, step) in steps.iter().enumerate() {
            println!("lab [{}/{}] {step}", i + 1, steps.len());
            if let Some(code) = self
                .step(step)
                .with_context(|| format!("step {}: {step}", i + 1))?
            {
                return Ok(Some(code));
            }
        }
        Ok(None)
    }

    fn step(&mut self, step: &Step) -> anyhow::Result<Option<i32>> {
        match step {
            Step::Doctor if self.skip_doctor => println!("  skipped (--skip-doctor)"),
            Step::Doctor => run_doctor()?,
            Step::CreateCluster { config } => self.create_cluster(config)?,
            Step::BuildImages { binaries, dir } => self.build_images(binaries, dir)?,
            Step::LoadArchives { dir, optional } => load_archives(dir, *optional)?,
            Step::Render { overlay } => {
                let mut objects = render(overlay)?;
                objects::prepare(&mut objects, &self.builds);
                self.objects = Some(objects);
            }
            Step::Apply(phase) => apply_phase(&kubectl(), self.objects()?, *phase)?,
            Step::WaitObi => wait_obi()?,
            Step::WaitReady => self.wait_ready()?,
            Step::PrintUrls => print_urls(),
            Step::DeleteCluster => Cmd::new("kind")
                .args(["delete", "cluster", "--name", CLUSTER])
                .run()?,
            Step::SaveImages { dir } => self.save_images(dir)?,
            Step::RequireCluster => {
                // `just load` comes here when no local lab runs: say both ways to get a lab.
                if !crate::cmd::on_path("kind") {
                    bail!(
                        "no lab is running: `just dev` starts the local lab; the kind lab (`just up`) needs kind: {}",
                        crate::cmd::install_hint("kind")
                    );
                }
                if !cluster_exists()? {
                    bail!(
                        "no kind cluster `{CLUSTER}`: `just up` starts it (or `just dev` runs the local lab)"
                    );
                }
            }
            Step::RunLoadJob {
                template,
                profile,
                args,
            } => return run_load(template, profile, args).map(Some),
        }
        Ok(None)
    }

    fn objects(&self) -> anyhow::Result<&[Object]> {
        self.objects
            .as_deref()
            .context("the plan applies before it renders the overlay")
    }

    fn create_cluster(&self, config: &Path) -> anyhow::Result<()> {
        if cluster_exists()? {
            println!("  cluster `{CLUSTER}` exists: converging it");
            return Ok(());
        }
        // Prefetched node images go into the engine's store, where `kind create` looks for them — by
        // tag: a loaded archive has no registry digest, so the config's pinned reference would not
        // match and kind would pull. The tag's content is the pinned digest's (`just prefetch` pulled
        // it by digest).
        let mut node_image = None;
        for archive in archives(&self.paths.prefetched.join("node"))? {
            engine().args(["load", "-i"]).arg(&archive).run()?;
            if let Some(r) = images::saved_ref(&archive)? {
                node_image = Some(r.tagged()?);
            }
        }
        let mut create = Cmd::new("kind").args([
            "create", "cluster", "--name", CLUSTER, "--wait", "120s", "--config",
        ]);
        create = create.arg(config);
        if let Some(image) = node_image {
            create = create.args(["--image", &image]);
        }
        create.run()
    }

    fn build_images(&mut self, binaries: &[String], dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let flake = self.paths.repo.display().to_string();
        let out = Cmd::new("nix")
            .args(["build", "--no-link", "--print-out-paths"])
            .args(binaries.iter().map(|b| format!("{flake}#image-{b}")))
            .output()?;
        for bin in binaries {
            // streamLayeredImage's output is a script named stream-<bin> that writes the archive.
            let suffix = format!("-stream-{bin}");
            let script = out
                .lines()
                .find(|l| l.ends_with(&suffix))
                .with_context(|| format!("nix build printed no …{suffix}: {out}"))?;
            let archive = dir.join(format!("{bin}.tar"));
            Cmd::new(script).stdout_to_file(&archive)?;
            println!("  {}", archive.display());
            let hash = Path::new(script)
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split('-').next());
            self.builds
                .insert(bin.clone(), hash.unwrap_or_default().to_owned());
        }
        Ok(())
    }

    fn wait_ready(&self) -> anyhow::Result<()> {
        let waited = self.wait_all();
        if waited.is_err() {
            // What is not ready and why, before the error that only says which wait timed out.
            let _ = print_status();
        }
        waited
    }

    fn wait_all(&self) -> anyhow::Result<()> {
        for wait in objects::waits(self.objects()?) {
            match wait {
                Wait::Rollout {
                    kind,
                    namespace,
                    name,
                } => kube::rollout_status(&namespace, &format!("{kind}/{name}"), READY_TIMEOUT)?,
                Wait::Job { namespace, name } => {
                    kube::wait_job_complete(&namespace, &name, READY_TIMEOUT)?;
                }
            }
        }
        Ok(())
    }

    fn save_images(&self, dir: &Path) -> anyhow::Result<()> {
        let images = objects::third_party_images(self.objects()?);
        let config = std::fs::read_to_string(self.paths.cluster_config())
            .with_context(|| format!("reading {}", self.paths.cluster_config().display()))?;
        let nodes = objects::node_images(&config)?;
        let platform = format!("linux/{}", arch());
        for (image, sub) in images
            .iter()
            .map(|i| (i, ""))
            .chain(nodes.iter().map(|i| (i, "node")))
        {
            let folder = dir.join(sub);
            std::fs::create_dir_all(&folder)?;
            let archive = folder.join(format!("{}.tar", archive_name(image)));
            // An archive without its reference file predates pinned loading: saved again.
            if archive.exists() && images::ref_file(&archive).exists() {
                println!("  {image}: saved already ({})", archive.display());
                continue;
            }
            // Pulled by its pin, saved by its tag (kind.rs' images module says why); a single-platform
            // archive: kind's image-archive loading breaks on multi-platform ones (kind #3795/#4066).
            let partial = archive.with_extension("tar.partial");
            for cmd in images::save_commands(engine().program(), image, &platform, &partial)? {
                cmd.run()?;
            }
            std::fs::write(images::ref_file(&archive), format!("{image}\n"))?;
            std::fs::rename(&partial, &archive)?;
            println!("  {image} → {}", archive.display());
        }
        Ok(())
    }
}

/// An archive file name for an image reference (`grafana/grafana:13.1.3@sha256:…` → safe name).
pub fn archive_name(image: &str) -> String {
    let base = image.split('@').next().unwrap_or(image);
    base.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    }
}

/// docker, or podman when kind is told to use it.
fn engine() -> Cmd {
    match std::env::var("KIND_EXPERIMENTAL_PROVIDER").as_deref() {
        Ok("podman") => Cmd::new("podman"),
        _ => Cmd::new("docker"),
    }
}

pub fn cluster_exists() -> anyhow::Result<bool> {
    let out = Cmd::new("kind").args(["get", "clusters"]).output()?;
    Ok(out.lines().any(|l| l.trim() == CLUSTER))
}

/// `just status`: every pod, and why any is not ready.
pub fn print_status() -> anyhow::Result<()> {
    if !cluster_exists()? {
        println!("no kind cluster `{CLUSTER}` (`just up` creates it)");
        return Ok(());
    }
    let out = kubectl()
        .args(["get", "pods", "-A", "-o", "json"])
        .output()?;
    let pods =
        super::status::pods(&serde_json::from_str(&out).context("kubectl get pods -o json")?);
    print!("{}", super::status::render(&pods));
    Ok(())
}

pub fn run_doctor() -> anyhow::Result<()> {
    let running = crate::cmd::on_path("kind") && cluster_exists().unwrap_or(false);
    let host = doctor::Host::read(Path::new("/"));
    // The kind node image (`just prefetch` saves it) has the `sh` the engine-kernel check runs in.
    let node = crate::project_root().ok().and_then(|repo| {
        let text = std::fs::read_to_string(Paths::new(&repo, &repo).cluster_config()).ok()?;
        let nodes = objects::node_images(&text).ok()?;
        let first = nodes.into_iter().next()?;
        images::ImageRef::parse(&first).ok()?.tagged().ok()
    });
    let tools = doctor::Tools::probe(host.osrelease.as_deref(), node.as_deref());
    let checks = doctor::all(&host, &tools, running);
    for check in &checks {
        println!("  {check}");
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        bail!("{failed} host prerequisite(s) missing (each with its fix above)");
    }
    Ok(())
}

fn archives(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tar"))
        .collect();
    found.sort();
    Ok(found)
}

fn load_archives(dir: &Path, optional: bool) -> anyhow::Result<()> {
    let found = archives(dir)?;
    if found.is_empty() {
        if optional {
            println!("  none in {}", dir.display());
            return Ok(());
        }
        bail!(
            "no image archives in {}: run `just up` without --no-build",
            dir.display()
        );
    }
    for archive in found {
        Cmd::new("kind")
            .args(["load", "image-archive", "--name", CLUSTER])
            .arg(&archive)
            .run()?;
        // A prefetched image pinned by digest: give it its digest name in the node too.
        let node = format!("{CLUSTER}-control-plane");
        if let Some(r) = images::saved_ref(&archive)?
            && let Some(cmd) = images::node_digest_name(engine().program(), &node, &r)?
        {
            cmd.run()?;
        }
    }
    Ok(())
}

/// The overlay rendered once (by the manifest checks' renderer: a warning is an error there too),
/// every object placed in a phase.
pub fn render(overlay: &Path) -> anyhow::Result<Vec<Object>> {
    let objects = crate::manifests::render::render(overlay)?.objects;
    objects::check_phases(&objects)?;
    Ok(objects)
}

/// `--dry-run`'s second half: what the render holds per phase, what is waited for, what is pulled.
pub fn describe_render(overlay: &Path) -> anyhow::Result<String> {
    let mut objects = render(overlay)?;
    // The Jobs' names as `just up` applies them (before any build: no image annotations).
    objects::prepare(&mut objects, &BTreeMap::new());
    let mut out = String::new();
    for phase in [Phase::Foundation, Phase::Apps] {
        let ids: Vec<String> = objects
            .iter()
            .filter(|o| objects::phase(o).ok() == Some(phase))
            .map(objects::id)
            .collect();
        out.push_str(&format!("apply phase {phase} ({} objects):\n", ids.len()));
        for id in ids {
            out.push_str(&format!("    {id}\n"));
        }
    }
    out.push_str("then wait for:\n");
    for wait in objects::waits(&objects) {
        out.push_str(&format!("    {wait}\n"));
    }
    out.push_str("third-party images (`just prefetch` saves them):\n");
    for image in objects::third_party_images(&objects) {
        out.push_str(&format!("    {image}\n"));
    }
    let config = overlay.join("kind-cluster.yaml");
    if let Ok(text) = std::fs::read_to_string(&config) {
        for image in objects::node_images(&text)? {
            out.push_str(&format!("    {image} (kind node)\n"));
        }
    }
    Ok(out)
}

fn print_urls() {
    println!("\nThe kind lab is up:");
    for (name, _, url) in HOST_PORTS {
        println!("  {name:<18} {url}");
    }
    println!(
        "\nNext: `just load spike` (loadgen in the cluster), `just status`, `just logs catalog`, `just down`."
    );
}

fn run_load(template: &Path, profile: &str, args: &[String]) -> anyhow::Result<i32> {
    let job = job::Job::apply(&job::template(template)?, profile, args)?;
    job.wait_started(|reason| println!("  {}: {reason}", job.name))?;
    // Streams progress lines and the final report; ends when the container exits.
    job.follow()?;
    let code = job.wait_exited(Duration::from_secs(120))?;
    println!(
        "lab: job/{} exited {code} (kept for an hour: `kubectl --context {CONTEXT} -n mop logs job/{}`)",
        job.name, job.name
    );
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_are_file_safe_and_drop_the_digest() {
        assert_eq!(
            archive_name("grafana/grafana:13.1.3@sha256:ab5cb380e3ff"),
            "grafana_grafana_13.1.3"
        );
        assert_eq!(
            archive_name("otel/ebpf-instrument:v0.14.0"),
            "otel_ebpf-instrument_v0.14.0"
        );
    }

    #[test]
    fn applying_before_rendering_is_a_plan_error() {
        let mut runner = Runner::new(Paths::new(Path::new("/repo"), Path::new("/cache")));
        let err = runner.step(&Step::Apply(Phase::Apps)).unwrap_err();
        assert!(format!("{err:#}").contains("before it renders"), "{err:#}");
    }

    #[test]
    fn optional_archives_may_be_absent_ours_may_not() {
        let missing = Path::new("/nonexistent/mop-images");
        load_archives(missing, true).unwrap();
        let err = load_archives(missing, false).unwrap_err().to_string();
        assert!(err.contains("without --no-build"), "{err}");
    }
}
