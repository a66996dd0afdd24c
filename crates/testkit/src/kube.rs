//! A throw-away Kubernetes API server for tests: the real `etcd` and `kube-apiserver` binaries (built
//! from their Go modules by `scripts/kube-build.sh` at the kind node's version) on free loopback ports.
//!
//! What it is: the API server with its real validation, defaulting, server-side apply, RBAC and
//! admission — `PodSecurity` included, enforced from each namespace's labels. What it is not: a
//! cluster. No controller manager, scheduler or kubelet runs, so Deployments never get ReplicaSets and
//! no pod ever starts; a test proves what the API server accepts, never what would run.
//!
//! Set-up, all generated in the server's own temporary folder at start: the serving certificate
//! (kube-apiserver writes a self-signed pair into `--cert-dir`; the kubeconfig trusts it), a static
//! admin token in group `system:masters`, the ServiceAccount token signing key pair (`openssl`), and a
//! kubeconfig with one context whose name the caller picks (the lab's code names `kind-mop`). Both
//! servers have watchdogs: nothing outlives the test binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::launcher::Launcher;
use crate::process::{self, Placement, free_port};
use crate::{Error, Result};

const INSTALL_HINT: &str = "`just kube-build` (scripts/kube-build.sh: builds etcd and kube-apiserver with Go into the cache)";
/// etcd answers `/health` within a second or two; the bound is for a loaded 2-core machine.
const ETCD_TIMEOUT: Duration = Duration::from_secs(60);
/// kube-apiserver's `/readyz` waits for its post-start hooks (RBAC bootstrap roles, priority levels):
/// ~10 s on an idle machine.
const APISERVER_TIMEOUT: Duration = Duration::from_secs(180);

/// A running etcd + kube-apiserver pair; dropping it stops both.
pub struct KubeApiServer {
    // Field order is drop order: the API server goes before its etcd.
    apiserver: Launcher,
    _etcd: Launcher,
    kubeconfig: PathBuf,
    url: String,
}

impl KubeApiServer {
    /// Starts etcd and kube-apiserver from `bin_dir` (holding both binaries), with a kubeconfig whose
    /// one context is named `context`.
    pub fn start(bin_dir: &Path, context: &str) -> Result<Self> {
        let binary = |name: &str| {
            let path = bin_dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error(format!(
                    "{} not found; build it: {INSTALL_HINT}",
                    path.display()
                )))
            }
        };
        let (etcd_bin, apiserver_bin) = (binary("etcd")?, binary("kube-apiserver")?);
        let openssl = process::find_binary("openssl", &[], "`apt-get install openssl`")?;
        process::find_binary("kubectl", &[], "scripts/install-deps.sh (kubectl >= 1.32)")?;

        let etcd = Launcher::child(&Placement::default(), "testkit-etcd", "etcd", "-KILL")?;
        let client = Placement::default().first_port(|client| {
            let peer = free_port()?;
            let url = |port: u16| format!("http://127.0.0.1:{port}");
            let mut cmd = Command::new(&etcd_bin);
            cmd.args([
                "--name",
                "testkit",
                "--log-level",
                "warn",
                "--unsafe-no-fsync",
            ])
            .arg("--data-dir")
            .arg(etcd.dir().join("data"))
            .args(["--listen-client-urls", &url(client)])
            .args(["--advertise-client-urls", &url(client)])
            .args(["--listen-peer-urls", &url(peer)])
            .args(["--initial-advertise-peer-urls", &url(peer)])
            .args(["--initial-cluster", &format!("testkit={}", url(peer))]);
            etcd.spawn(
                cmd,
                "etcd.log",
                ETCD_TIMEOUT,
                ("answer /health", || {
                    http_get(client, "/health").is_some_and(|b| b.contains("\"health\":\"true\""))
                }),
            )?;
            Ok(client)
        })?;

        let apiserver = Launcher::child(
            &Placement::default(),
            "testkit-kube-apiserver",
            "kube-apiserver",
            "-KILL",
        )?;
        let dir = apiserver.dir().to_path_buf();
        let (key, public) = (dir.join("sa.key"), dir.join("sa.pub"));
        process::run(
            Command::new(&openssl)
                .args(["genrsa", "-out"])
                .arg(&key)
                .arg("2048"),
            "openssl genrsa (ServiceAccount signing key)",
        )?;
        process::run(
            Command::new(&openssl)
                .args(["rsa", "-pubout", "-in"])
                .arg(&key)
                .arg("-out")
                .arg(&public),
            "openssl rsa -pubout",
        )?;
        let token = format!("testkit-{}-{}", std::process::id(), client);
        std::fs::write(
            dir.join("tokens.csv"),
            format!("{token},testkit-admin,testkit-admin,\"system:masters\"\n"),
        )?;
        let kubeconfig = dir.join("kubeconfig");
        let url = Placement::default().first_port(|port| {
            let mut cmd = Command::new(&apiserver_bin);
            cmd.arg(format!("--etcd-servers=http://127.0.0.1:{client}"))
                .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
                .arg(format!("--secure-port={port}"))
                .arg(format!("--cert-dir={}", dir.join("pki").display()))
                .arg(format!(
                    "--token-auth-file={}",
                    dir.join("tokens.csv").display()
                ))
                .arg("--authorization-mode=RBAC")
                // What kind's control plane runs: privileged pods allowed (OBI), PodSecurity and the
                // default admission chain.
                .arg("--allow-privileged=true")
                .arg("--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity")
                .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
                .arg(format!("--service-account-key-file={}", public.display()))
                .arg(format!(
                    "--service-account-signing-key-file={}",
                    key.display()
                ))
                .arg("--service-cluster-ip-range=10.96.0.0/16")
                .arg("--profiling=false");
            write_kubeconfig(&kubeconfig, &dir, port, &token, context)?;
            apiserver.spawn(
                cmd,
                "kube-apiserver.log",
                APISERVER_TIMEOUT,
                ("answer /readyz", || ready(&kubeconfig, context)),
            )?;
            Ok(format!("https://127.0.0.1:{port}"))
        })?;
        Ok(Self {
            apiserver,
            _etcd: etcd,
            kubeconfig,
            url,
        })
    }

    /// A kubeconfig (admin token, the server's own certificate trusted) with the caller's context.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The API server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.apiserver.dir().join("kube-apiserver.log")).unwrap_or_default()
    }
}

fn write_kubeconfig(path: &Path, dir: &Path, port: u16, token: &str, context: &str) -> Result<()> {
    // kube-apiserver writes its self-signed pair (leaf, then the CA that signed it) on first start.
    let ca = dir.join("pki/apiserver.crt");
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
  - name: testkit
    cluster: {{ server: 'https://127.0.0.1:{port}', certificate-authority: '{}' }}
users:
  - name: testkit-admin
    user: {{ token: '{token}' }}
contexts:
  - name: '{context}'
    context: {{ cluster: testkit, user: testkit-admin }}
current-context: '{context}'
",
        ca.display()
    );
    std::fs::write(path, text)?;
    Ok(())
}

/// `kubectl get --raw /readyz` answers `ok` (TLS verified against the generated certificate).
fn ready(kubeconfig: &Path, context: &str) -> bool {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--context",
            context,
            "--request-timeout=5s",
            "get",
            "--raw",
            "/readyz",
        ])
        .output();
    let ok = matches!(&out, Ok(o) if o.status.success() && o.stdout.starts_with(b"ok"));
    if !ok {
        // Poll gently: each kubectl is a process start.
        std::thread::sleep(Duration::from_millis(500));
    }
    ok
}

/// A plain HTTP/1.0 GET on loopback (etcd's client port is plaintext here): the body, if it answered.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}
