//! What the grid's rows are derived from: each HTTP service binary's OpenAPI document (`<bin>
//! openapi`), the gRPC proto file, and the routes OBI's config ignores (the probes).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use super::expected::HTTP_SERVICES;

/// What the items are derived from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Per service (OBI's name): its OpenAPI routes as (METHOD, template).
    pub routes: BTreeMap<String, Vec<(String, String)>>,
    /// Full gRPC method names, `/mop.auth.v1.AuthService/Login`.
    pub grpc_methods: Vec<String>,
}

impl Sources {
    /// From the binaries in `bin_dir` (`<bin> openapi`), the proto file and OBI's ignored routes.
    pub fn read(bin_dir: &Path, repo: &Path) -> anyhow::Result<Sources> {
        let ignored = ignored_routes(repo)?;
        let mut routes = BTreeMap::new();
        for (service, bin) in HTTP_SERVICES {
            let doc = openapi(&bin_dir.join(bin))?;
            let list: Vec<(String, String)> = operations(&doc)?
                .into_iter()
                .filter(|(_, path)| !ignored.contains(path))
                .collect();
            routes.insert(service.to_owned(), list);
        }
        let proto = repo.join("proto/mop/auth/v1/auth.proto");
        let text = std::fs::read_to_string(&proto)
            .with_context(|| format!("reading {}", proto.display()))?;
        Ok(Sources {
            routes,
            grpc_methods: grpc_methods(&text)?,
        })
    }
}

/// `routes.ignored_patterns` of the lab's OBI config (probes: OBI makes no telemetry for them).
pub fn ignored_routes(repo: &Path) -> anyhow::Result<Vec<String>> {
    let path = repo.join("kustomize/components/observability/config/obi-config.yml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let config: serde_json::Value = serde_yaml::from_str(&text)?;
    Ok(crate::manifests::obi::string_list(
        &config,
        "/routes/ignored_patterns",
    ))
}

/// The OpenAPI document a service binary prints with `<bin> openapi`.
fn openapi(bin: &Path) -> anyhow::Result<String> {
    let out = std::process::Command::new(bin)
        .arg("openapi")
        .output()
        .with_context(|| {
            format!(
                "{}: cannot run it — build the services with `cargo build --workspace --bins`",
                bin.display()
            )
        })?;
    anyhow::ensure!(
        out.status.success(),
        "`{} openapi` failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// (METHOD, path template) of every operation of an OpenAPI document.
pub fn operations(document: &str) -> anyhow::Result<Vec<(String, String)>> {
    let doc: serde_json::Value = serde_json::from_str(document).context("OpenAPI: not JSON")?;
    let paths = doc["paths"]
        .as_object()
        .context("OpenAPI document without `paths`")?;
    let mut out = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                out.push((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    Ok(out)
}

/// `/<package>.<Service>/<Method>` for every `rpc` of a proto file — what OBI puts in rpc_method.
pub fn grpc_methods(proto: &str) -> anyhow::Result<Vec<String>> {
    let words = |line: &str| -> Vec<String> {
        line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (mut package, mut service, mut out) = (None, None, Vec::new());
    for line in proto
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
    {
        let w = words(line);
        match w.first().map(String::as_str) {
            Some("package") => package = w.get(1).cloned(),
            Some("service") => service = w.get(1).cloned(),
            Some("rpc") => {
                let (Some(p), Some(s), Some(m)) = (&package, &service, w.get(1)) else {
                    anyhow::bail!("an rpc outside a package and service: {line}");
                };
                out.push(format!("/{p}.{s}/{m}"));
            }
            _ => {}
        }
    }
    anyhow::ensure!(!out.is_empty(), "no rpc in the proto file");
    Ok(out)
}
