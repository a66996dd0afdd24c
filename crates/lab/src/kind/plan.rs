//! Each kind-lab command as data: the ordered steps it takes and what each waits for. [`super::run`]
//! carries them out; `--dry-run` prints them; the tests below pin the order that matters.

use std::fmt;
use std::path::PathBuf;

use super::objects::Phase;
use super::{CLUSTER, POD_BINARIES, Paths};

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The host prerequisites (fails with every problem and its fix).
    Doctor,
    /// `kind create cluster` from kind-cluster.yaml, skipped when the cluster exists (idempotent).
    CreateCluster { config: PathBuf },
    /// `nix build` every `image-<bin>` and stream each into `<dir>/<bin>.tar`.
    BuildImages { binaries: Vec<String>, dir: PathBuf },
    /// `kind load image-archive` every archive of `dir` (ours, or prefetched third-party ones).
    LoadArchives { dir: PathBuf, optional: bool },
    /// `kubectl kustomize` the overlay once; later steps use its objects.
    Render { overlay: PathBuf },
    /// `kubectl apply --server-side --force-conflicts` the objects of one phase.
    Apply(Phase),
    /// Wait until the OBI DaemonSet (`obi/obi`) is Ready on every node.
    WaitObi,
    /// Wait for every rollout, then every Job, of the render.
    WaitReady,
    /// Print the URLs and the next commands.
    PrintUrls,
    /// `kind delete cluster` (succeeds when there is none).
    DeleteCluster,
    /// Pull and save every third-party image of the render and of kind-cluster.yaml into `dir`.
    SaveImages { dir: PathBuf },
    /// Fail unless the kind cluster exists and answers.
    RequireCluster,
    /// Run loadgen in the cluster as a Job from the load component's template; its exit code is ours.
    RunLoadJob {
        template: PathBuf,
        profile: String,
        args: Vec<String>,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Doctor => write!(
                f,
                "doctor: check the host (container engine, kernel, BTF, kprobes, cgroup v2, inotify, ports, Nix)"
            ),
            Step::CreateCluster { config } => write!(
                f,
                "kind create cluster --name {CLUSTER} --config {} (skipped when it exists)",
                config.display()
            ),
            Step::BuildImages { binaries, dir } => write!(
                f,
                "nix build --no-link --print-out-paths {} → stream each into {}/<bin>.tar",
                binaries
                    .iter()
                    .map(|b| format!(".#image-{b}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                dir.display()
            ),
            Step::LoadArchives { dir, optional } => write!(
                f,
                "kind load image-archive --name {CLUSTER} {}/*.tar{}",
                dir.display(),
                if *optional {
                    " (when `just prefetch` saved any)"
                } else {
                    ""
                }
            ),
            Step::Render { overlay } => write!(
                f,
                "kubectl kustomize {} (once; split into phases; pods of rebuilt images annotated so they roll)",
                overlay.display()
            ),
            Step::Apply(phase) => write!(
                f,
                "kubectl apply --server-side --force-conflicts -f - : {phase}"
            ),
            Step::WaitObi => write!(
                f,
                "kubectl rollout status daemonset/obi -n obi (OBI Ready before the apps start)"
            ),
            Step::WaitReady => write!(
                f,
                "kubectl rollout status every Deployment/StatefulSet/DaemonSet; kubectl wait every Job complete"
            ),
            Step::PrintUrls => write!(f, "print Grafana, Prometheus, Tempo and the services' URLs"),
            Step::DeleteCluster => write!(f, "kind delete cluster --name {CLUSTER}"),
            Step::SaveImages { dir } => write!(
                f,
                "docker pull + docker save every third-party image of the render and kind-cluster.yaml into {}",
                dir.display()
            ),
            Step::RequireCluster => {
                write!(f, "kind get clusters: `{CLUSTER}` must be up (`just up`)")
            }
            Step::RunLoadJob {
                template,
                profile,
                args,
            } => write!(
                f,
                "Job from {} running `loadgen run {profile}{}` in mop; stream its logs; exit with its code",
                template.display(),
                args.iter().map(|a| format!(" {a}")).collect::<String>()
            ),
        }
    }
}

/// `just up`: doctor → cluster → images built and loaded → render → foundation → OBI Ready → apps →
/// everything ready → URLs.
pub fn up(paths: &Paths, build_images: bool) -> Vec<Step> {
    let mut steps = vec![
        Step::Doctor,
        Step::CreateCluster {
            config: paths.cluster_config(),
        },
    ];
    if build_images {
        steps.push(Step::BuildImages {
            binaries: POD_BINARIES.iter().map(|b| (*b).to_owned()).collect(),
            dir: paths.images.clone(),
        });
    }
    steps.extend([
        Step::LoadArchives {
            dir: paths.images.clone(),
            optional: false,
        },
        Step::LoadArchives {
            dir: paths.prefetched.clone(),
            optional: true,
        },
        Step::Render {
            overlay: paths.overlay(),
        },
        Step::Apply(Phase::Foundation),
        Step::WaitObi,
        Step::Apply(Phase::Apps),
        Step::WaitReady,
        Step::PrintUrls,
    ]);
    steps
}

/// `just down`.
pub fn down() -> Vec<Step> {
    vec![Step::DeleteCluster]
}

/// `just prefetch`: the image list comes from the render, never from a second hand-kept list.
pub fn prefetch(paths: &Paths) -> Vec<Step> {
    vec![
        Step::Render {
            overlay: paths.overlay(),
        },
        Step::SaveImages {
            dir: paths.prefetched.clone(),
        },
    ]
}

/// `just load PROFILE [ARGS]` with the kind lab up.
pub fn load(paths: &Paths, profile: &str, args: &[String]) -> Vec<Step> {
    vec![
        Step::RequireCluster,
        Step::RunLoadJob {
            template: paths.load_template(),
            profile: profile.to_owned(),
            args: args.to_vec(),
        },
    ]
}

/// The plan as `--dry-run` prints it: numbered steps.
pub fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| format!("{:>2}. {step}\n", i + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn paths() -> Paths {
        Paths::new(Path::new("/repo"), Path::new("/cache"))
    }

    fn position(steps: &[Step], wanted: &Step) -> usize {
        steps
            .iter()
            .position(|s| s == wanted)
            .unwrap_or_else(|| panic!("{wanted:?} not in the plan:\n{}", describe(steps)))
    }

    #[test]
    fn up_checks_the_host_first_and_prints_urls_last() {
        let steps = up(&paths(), true);
        assert_eq!(steps.first(), Some(&Step::Doctor));
        assert_eq!(steps.last(), Some(&Step::PrintUrls));
        assert_eq!(
            position(&steps, &Step::Doctor) + 1,
            position(
                &steps,
                &Step::CreateCluster {
                    config: "/repo/kustomize/overlays/kind/kind-cluster.yaml".into()
                }
            )
        );
    }

    #[test]
    fn observability_and_a_ready_obi_come_before_the_apps() {
        let steps = up(&paths(), true);
        let foundation = position(&steps, &Step::Apply(Phase::Foundation));
        let obi = position(&steps, &Step::WaitObi);
        let apps = position(&steps, &Step::Apply(Phase::Apps));
        let ready = position(&steps, &Step::WaitReady);
        assert!(
            foundation < obi && obi < apps && apps < ready,
            "{}",
            describe(&steps)
        );
    }

    #[test]
    fn every_image_is_built_and_loaded_before_anything_is_applied() {
        let steps = up(&paths(), true);
        let first_apply = steps
            .iter()
            .position(|s| matches!(s, Step::Apply(_)))
            .unwrap();
        let build = steps
            .iter()
            .position(|s| matches!(s, Step::BuildImages { .. }))
            .unwrap();
        let Step::BuildImages { binaries, dir } = &steps[build] else {
            unreachable!()
        };
        assert_eq!(binaries, &POD_BINARIES);
        let load_ours = position(
            &steps,
            &Step::LoadArchives {
                dir: dir.clone(),
                optional: false,
            },
        );
        let load_prefetched = position(
            &steps,
            &Step::LoadArchives {
                dir: "/cache/mop/images".into(),
                optional: true,
            },
        );
        let create = steps
            .iter()
            .position(|s| matches!(s, Step::CreateCluster { .. }))
            .unwrap();
        assert!(create < build && build < load_ours, "{}", describe(&steps));
        assert!(
            load_ours < first_apply && load_prefetched < first_apply,
            "{}",
            describe(&steps)
        );
    }

    #[test]
    fn the_overlay_is_rendered_once_before_the_first_apply() {
        let steps = up(&paths(), false);
        let renders: Vec<_> = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Step::Render { .. }))
            .collect();
        assert_eq!(renders.len(), 1);
        let first_apply = steps
            .iter()
            .position(|s| matches!(s, Step::Apply(_)))
            .unwrap();
        assert!(renders[0].0 < first_apply);
        assert!(
            !steps.iter().any(|s| matches!(s, Step::BuildImages { .. })),
            "--no-build keeps target/images"
        );
    }

    #[test]
    fn prefetch_reads_the_images_from_the_render_and_load_needs_the_cluster() {
        let steps = prefetch(&paths());
        assert!(matches!(steps[0], Step::Render { .. }));
        assert!(matches!(steps[1], Step::SaveImages { .. }));
        let steps = load(&paths(), "spike", &["--duration".into(), "60s".into()]);
        assert_eq!(steps[0], Step::RequireCluster);
        assert!(describe(&steps).contains("loadgen run spike --duration 60s"));
        assert_eq!(down(), [Step::DeleteCluster]);
    }

    #[test]
    fn describe_numbers_every_step() {
        let text = describe(&up(&paths(), true));
        assert!(text.starts_with(" 1. doctor"), "{text}");
        assert!(text.contains("10. kubectl rollout status every"), "{text}");
        assert!(
            text.contains("nix build --no-link --print-out-paths .#image-catalog .#image-auth"),
            "{text}"
        );
    }
}
