//! Third-party images without a registry: what `just prefetch` saves and how `just up` loads them so
//! that references pinned by digest (`grafana/grafana:13.1.3@sha256:…`, the kind node) still resolve.
//!
//! Why not `docker save name:tag@digest`: a docker-archive names images by tag only, so an image saved
//! by a digest reference has no name in the archive, and once loaded nothing — not the node's
//! containerd, not kind — finds it under the pinned reference; the node then tries the registry. So
//! the image is pulled by its pinned reference (the content is the digest's), tagged with its plain
//! tag, saved by that tag, and the full reference is kept beside the archive (`<archive>.ref`). On
//! load, the node's containerd gets the digest name as a second name of the same image
//! (`ctr images tag`), which is the name the kubelet asks for; kind's own node image is created from
//! the tag (`kind create cluster --image`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cmd::Cmd;

/// An image reference split into its parts, with Docker Hub's implicit parts made explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// As written, without tag and digest (`grafana/grafana`, `postgres`).
    pub name: String,
    pub tag: Option<String>,
    /// `sha256:…`.
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(image: &str) -> anyhow::Result<Self> {
        let (rest, digest) = match image.split_once('@') {
            Some((rest, digest)) if digest.starts_with("sha256:") => {
                (rest, Some(digest.to_owned()))
            }
            Some(_) => bail!("{image}: a digest must be sha256:…"),
            None => (image, None),
        };
        // A ':' after the last '/' is a tag (a ':' before it belongs to a registry port).
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].split_once(':') {
            Some((_, tag)) => (&rest[..rest.len() - tag.len() - 1], Some(tag.to_owned())),
            None => (rest, None),
        };
        if name.is_empty() {
            bail!("{image}: no image name");
        }
        Ok(Self {
            name: name.to_owned(),
            tag,
            digest,
        })
    }

    /// `name:tag`, what the archive carries (an error for an image pinned without a tag).
    pub fn tagged(&self) -> anyhow::Result<String> {
        let tag = self
            .tag
            .as_deref()
            .with_context(|| format!("{}: pin images as name:tag@sha256:…", self.name))?;
        Ok(format!("{}:{tag}", self.name))
    }

    /// The fully qualified repository, as containerd names images (`docker.io/library/postgres`).
    pub fn repository(&self) -> String {
        let first = self.name.split('/').next().unwrap_or_default();
        let has_registry = self.name.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        match (has_registry, self.name.contains('/')) {
            (true, _) => self.name.clone(),
            (false, true) => format!("docker.io/{}", self.name),
            (false, false) => format!("docker.io/library/{}", self.name),
        }
    }

    /// The pinned reference as the pull uses it: by digest when there is one.
    pub fn pinned(&self) -> String {
        match &self.digest {
            Some(d) => format!("{}@{d}", self.name),
            None => format!("{}:{}", self.name, self.tag.as_deref().unwrap_or("latest")),
        }
    }
}

/// The commands that save `image` into `archive` for `platform` (pull by the pin, tag, save by tag).
pub fn save_commands(
    engine: &str,
    image: &str,
    platform: &str,
    archive: &Path,
) -> anyhow::Result<Vec<Cmd>> {
    let r = ImageRef::parse(image)?;
    let tagged = r.tagged()?;
    let mut cmds = vec![Cmd::new(engine).args(["pull", "--platform", platform, &r.pinned()])];
    if r.digest.is_some() {
        cmds.push(Cmd::new(engine).args(["tag", &r.pinned(), &tagged]));
    }
    cmds.push(
        Cmd::new(engine)
            .args(["save", "--platform", platform, "-o"])
            .arg(archive)
            .arg(&tagged),
    );
    Ok(cmds)
}

/// Where the full reference of an archive's image is kept.
pub fn ref_file(archive: &Path) -> PathBuf {
    archive.with_extension("ref")
}

/// The image reference saved beside `archive` (`None` for archives saved before references were kept).
pub fn saved_ref(archive: &Path) -> anyhow::Result<Option<ImageRef>> {
    match std::fs::read_to_string(ref_file(archive)) {
        Ok(text) => ImageRef::parse(text.trim()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", ref_file(archive).display())),
    }
}

/// After `kind load image-archive` of an image pinned by digest: the same image under its digest
/// name in the node's containerd (namespace k8s.io, the kubelet's), so `image: name:tag@sha256:…`
/// resolves without a registry. `None` when the image has no digest (its tag is its name already).
pub fn node_digest_name(engine: &str, node: &str, r: &ImageRef) -> anyhow::Result<Option<Cmd>> {
    let Some(digest) = &r.digest else {
        return Ok(None);
    };
    let tag = r
        .tag
        .as_deref()
        .context("an image pinned by digest needs its tag too")?;
    let repo = r.repository();
    Ok(Some(Cmd::new(engine).args([
        "exec",
        node,
        "ctr",
        "--namespace",
        "k8s.io",
        "images",
        "tag",
        "--force",
        &format!("{repo}:{tag}"),
        &format!("{repo}@{digest}"),
    ])))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAFANA: &str = "grafana/grafana:13.1.3@sha256:ab5cb380e3ff3172d6c8bd2e7cfd31cce977d2881b260e1f5bc089bf0b759b43";

    #[test]
    fn references_split_into_name_tag_and_digest_with_docker_hubs_implicit_parts() {
        let g = ImageRef::parse(GRAFANA).unwrap();
        assert_eq!(
            (g.name.as_str(), g.tag.as_deref()),
            ("grafana/grafana", Some("13.1.3"))
        );
        assert_eq!(g.repository(), "docker.io/grafana/grafana");
        assert_eq!(
            g.pinned(),
            format!("grafana/grafana@{}", g.digest.as_deref().unwrap())
        );
        let pg = ImageRef::parse("postgres:18.1").unwrap();
        assert_eq!(
            (pg.repository(), pg.digest),
            ("docker.io/library/postgres".to_owned(), None)
        );
        let local = ImageRef::parse("localhost:5000/x/y:1@sha256:00").unwrap();
        assert_eq!(
            (local.name.as_str(), local.tag.as_deref()),
            ("localhost:5000/x/y", Some("1"))
        );
        assert_eq!(local.repository(), "localhost:5000/x/y");
        assert!(ImageRef::parse("x@md5:00").is_err());
        let tagless = ImageRef::parse("grafana/grafana@sha256:00").unwrap();
        assert!(tagless.tagged().is_err());
    }

    #[test]
    fn a_pinned_image_is_pulled_by_digest_and_saved_by_its_tag() {
        let cmds = save_commands("docker", GRAFANA, "linux/amd64", Path::new("/c/g.tar")).unwrap();
        let lines: Vec<String> = cmds.iter().map(Cmd::display).collect();
        let digest = GRAFANA.split('@').nth(1).unwrap();
        assert_eq!(
            lines,
            [
                format!("docker pull --platform linux/amd64 grafana/grafana@{digest}"),
                format!("docker tag grafana/grafana@{digest} grafana/grafana:13.1.3"),
                "docker save --platform linux/amd64 -o /c/g.tar grafana/grafana:13.1.3".to_owned(),
            ]
        );
        // The archive is named by tag: saving the digest reference (which leaves the archive's image
        // nameless) is what this replaces.
        assert!(!lines[2].contains('@'));
    }

    #[test]
    fn the_node_gets_the_digest_name_of_a_pinned_image_only() {
        let g = ImageRef::parse(GRAFANA).unwrap();
        let cmd = node_digest_name("docker", "mop-control-plane", &g)
            .unwrap()
            .unwrap();
        let digest = g.digest.as_deref().unwrap();
        assert_eq!(
            cmd.display(),
            format!(
                "docker exec mop-control-plane ctr --namespace k8s.io images tag --force docker.io/grafana/grafana:13.1.3 docker.io/grafana/grafana@{digest}"
            )
        );
        let plain = ImageRef::parse("otel/ebpf-instrument:v0.14.0").unwrap();
        assert!(
            node_digest_name("docker", "mop-control-plane", &plain)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_reference_is_kept_beside_the_archive() {
        let dir = std::env::temp_dir().join(format!("mop-images-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("grafana.tar");
        assert_eq!(saved_ref(&archive).unwrap(), None);
        std::fs::write(ref_file(&archive), format!("{GRAFANA}\n")).unwrap();
        assert_eq!(
            saved_ref(&archive).unwrap(),
            Some(ImageRef::parse(GRAFANA).unwrap())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
