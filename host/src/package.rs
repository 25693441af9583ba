//! `aio package APP.wasm -o app.tar`: an OCI image (the image layout, as a
//! tar) that `ctr image import` and `skopeo`/`crane` take, for the
//! containerd shim (`containerd-shim-aio-v1`, docs/kubernetes.md).
//!
//! The image is a plain one: one layer holding `/APP.wasm`, the entrypoint
//! `["/APP.wasm"]`. Not the wasm OCI artifact layout (a layer of media type
//! `application/wasm`), because containerd before 1.6.25/1.7.7 (Debian 12
//! ships 1.6.20) cannot import or run artifacts. Its platform is the
//! node's (`linux/amd64` here, `--platform` to change it): containerd and
//! the kubelet pull only images for their own platform, though the
//! component inside runs anywhere.
//!
//! Everything in the tar is deterministic (no timestamps, owner root), so
//! the same component gives the same image digest.

use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// What goes into an image.
#[derive(Debug)]
pub(crate) struct Image<'a> {
    /// The component's file name in the image (`echo.wasm`).
    pub(crate) file_name: &'a str,
    pub(crate) component: &'a [u8],
    /// `localhost/echo:latest`.
    pub(crate) name: &'a str,
    /// `linux/amd64`.
    pub(crate) platform: (&'a str, &'a str),
    /// The image's `USER` (`1000:1000`), if any: who the shim runs the
    /// guest as unless the pod says otherwise.
    pub(crate) user: Option<&'a str>,
}

/// The platform of this machine, as OCI names it.
pub(crate) fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    ("linux", arch)
}

/// `OS/ARCH`, checked.
pub(crate) fn parse_platform(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((os, arch)) if !os.is_empty() && !arch.is_empty() && !arch.contains('/') => {
            Ok((os.to_owned(), arch.to_owned()))
        }
        _ => Err(format!("`{text}` is not OS/ARCH (e.g. linux/amd64)")),
    }
}

/// `UID[:GID]`, numeric (the image has no /etc/passwd to name users by).
pub(crate) fn parse_user(text: &str) -> Result<String, String> {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match text.split_once(':') {
        None if numeric(text) => Ok(text.to_owned()),
        Some((uid, gid)) if numeric(uid) && numeric(gid) => Ok(text.to_owned()),
        _ => Err(format!("`{text}` is not UID or UID:GID (numbers)")),
    }
}

/// The image layout tar.
pub(crate) fn write(image: &Image<'_>) -> std::io::Result<Vec<u8>> {
    let layer = tar_of(&[(image.file_name, image.component)])?;
    let layer_digest = digest(&layer);
    let (os, arch) = image.platform;
    let config = serde_json::to_vec(&json!({
        "architecture": arch,
        "os": os,
        "config": {
            "Entrypoint": [format!("/{}", image.file_name)],
            "User": image.user.unwrap_or(""),
        },
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        "history": [{ "created_by": format!("aio package {}", image.file_name) }],
    }))?;
    let config_digest = digest(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": { "mediaType": CONFIG, "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": LAYER, "digest": layer_digest, "size": layer.len() }],
    }))?;
    let manifest_digest = digest(&manifest);
    let tag = image.name.rsplit_once(':').map_or("latest", |(_, tag)| tag);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": MANIFEST,
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": { "architecture": arch, "os": os },
            "annotations": {
                "io.containerd.image.name": image.name,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    }))?;
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    let blob = |digest: &str| format!("blobs/sha256/{}", &digest["sha256:".len()..]);
    tar_of(&[
        ("oci-layout", layout),
        ("index.json", &index),
        (&blob(&manifest_digest), &manifest),
        (&blob(&config_digest), &config),
        (&blob(&layer_digest), &layer),
    ])
}

fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A tar of regular files, mode 0644 (directories implied, 0755),
/// deterministic.
fn tar_of(files: &[(&str, &[u8])]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    let mut dirs: Vec<String> = Vec::new();
    for (path, bytes) in files {
        // Parent directories first (blobs/, blobs/sha256/), once each.
        let parents: Vec<String> = Path::new(path)
            .ancestors()
            .skip(1)
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| format!("{}/", d.display()))
            .filter(|d| !dirs.contains(d))
            .collect();
        for dir in parents.into_iter().rev() {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            header.set_mtime(0);
            builder.append_data(&mut header, &dir, std::io::empty())?;
            dirs.push(dir);
        }
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(bytes.len() as u64);
        header.set_mtime(0);
        builder.append_data(&mut header, path, *bytes)?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
                (path, bytes)
            })
            .collect()
    }

    #[test]
    fn an_image_layout_whose_digests_match_and_whose_entrypoint_is_the_component() {
        let image = Image {
            file_name: "echo.wasm",
            component: b"\0asm\x0d\0\x01\0",
            name: "localhost/echo:v1",
            platform: ("linux", "amd64"),
            user: Some("1000:1000"),
        };
        let tar = write(&image).unwrap();
        assert_eq!(tar, write(&image).unwrap(), "deterministic");
        let files = entries(&tar);
        let get = |name: &str| -> serde_json::Value {
            let (_, bytes) = files.iter().find(|(p, _)| p == name).expect(name);
            serde_json::from_slice(bytes).unwrap()
        };
        let blob = |digest: &serde_json::Value| {
            let path = format!("blobs/sha256/{}", &digest.as_str().unwrap()[7..]);
            let (_, bytes) = files.iter().find(|(p, _)| *p == path).expect(&path);
            assert_eq!(super::digest(bytes), digest.as_str().unwrap());
            bytes.clone()
        };
        assert_eq!(get("oci-layout")["imageLayoutVersion"], "1.0.0");
        let index = get("index.json");
        let entry = &index["manifests"][0];
        assert_eq!(
            entry["annotations"]["io.containerd.image.name"],
            "localhost/echo:v1"
        );
        assert_eq!(
            entry["annotations"]["org.opencontainers.image.ref.name"],
            "v1"
        );
        let manifest: serde_json::Value = serde_json::from_slice(&blob(&entry["digest"])).unwrap();
        let config: serde_json::Value =
            serde_json::from_slice(&blob(&manifest["config"]["digest"])).unwrap();
        assert_eq!(config["config"]["Entrypoint"][0], "/echo.wasm");
        assert_eq!(config["config"]["User"], "1000:1000");
        assert_eq!(
            (config["os"].as_str(), config["architecture"].as_str()),
            (Some("linux"), Some("amd64"))
        );
        let layer = blob(&manifest["layers"][0]["digest"]);
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            manifest["layers"][0]["digest"]
        );
        assert_eq!(
            entries(&layer),
            [("echo.wasm".to_owned(), image.component.to_vec())]
        );
    }

    #[test]
    fn platforms() {
        assert_eq!(
            parse_platform("linux/arm64"),
            Ok(("linux".into(), "arm64".into()))
        );
        assert!(parse_platform("linux").is_err());
        assert!(parse_platform("linux/arm/v7").is_err());
        assert_eq!(host_platform().0, "linux");
        assert_eq!(parse_user("1000:100"), Ok("1000:100".into()));
        assert!(parse_user("nobody").is_err() && parse_user("1:").is_err());
    }
}
