//! What a container's OCI runtime spec (its bundle's `config.json`) asks
//! for, read into what aio runs: the component, its args and environment,
//! the network namespace, and the grants and limits, deny by default.
//!
//! Grants and limits come from annotations (a pod's, passed on by the CRI;
//! `ctr run --annotation`):
//!
//! | annotation | as `aio run` |
//! |---|---|
//! | `aio.grants/allow-net: "10.0.0.5:5432,db:5432"` | `--allow-net` |
//! | `aio.grants/allow-listen: "0.0.0.0:8080"` | `--allow-listen` |
//! | `aio.limits/max-memory: "256MiB"` | `--max-memory` |
//! | `aio.limits/max-cpu: "10m"` | `--max-cpu` (CPU time in all) |
//! | `aio.limits/timeout: "1h"` | `--timeout` |
//! | `aio.audit/log: "stderr"` | `--audit-log`, as JSON lines on the container's stderr |
//!
//! The container's memory limit (`resources.limits.memory`) is a
//! `--max-memory` too; with both, the lower wins. Any other `aio.`
//! annotation is refused by name, so that a misspelt grant fails the
//! container instead of running it without what the author meant.

use aio_host::units::{parse_duration, parse_size};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The annotations this shim reads.
const KNOWN: [&str; 6] = [
    "aio.grants/allow-net",
    "aio.grants/allow-listen",
    "aio.limits/max-memory",
    "aio.limits/max-cpu",
    "aio.limits/timeout",
    "aio.audit/log",
];

/// The network a container runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// No network namespace in the spec: the host's (`ctr run --net-host`).
    Host,
    /// A namespace to join: a pod's, made by the CRI and its CNI.
    Join(PathBuf),
    /// A new, empty namespace with only loopback (`ctr run` without
    /// `--net-host`).
    New,
}

/// One container, as aio will run it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The container's root file system (the image, mounted by the shim).
    pub rootfs: PathBuf,
    /// The component: `process.args[0]`, a path inside `rootfs`.
    pub program: String,
    /// `process.args[1..]`.
    pub args: Vec<String>,
    /// `process.env`, as `NAME=VALUE`: the guest's whole environment.
    pub env: Vec<(String, String)>,
    /// A CRI sandbox ("pause") container: it only holds the pod's place.
    pub sandbox: bool,
    pub network: Network,
    pub allow_net: Vec<String>,
    pub allow_listen: Vec<String>,
    pub max_memory: Option<u64>,
    pub max_cpu: Option<Duration>,
    pub timeout: Option<Duration>,
    /// Audit lines on the container's stderr.
    pub audit_to_stderr: bool,
    /// `process.user`: who the guest runs as (`runAsUser`, the image's
    /// `USER`).
    pub user: User,
}

/// A container's user: uid, gid and supplementary groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl Plan {
    /// Reads `BUNDLE/config.json`.
    pub fn load(bundle: &Path) -> Result<Plan, String> {
        let path = bundle.join("config.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let spec: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a runtime spec: {e}", path.display()))?;
        Plan::from_spec(&spec, bundle)
    }

    /// The plan for a parsed runtime spec whose bundle is `bundle`.
    pub fn from_spec(spec: &Value, bundle: &Path) -> Result<Plan, String> {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let root = spec["root"]["path"]
            .as_str()
            .ok_or("the runtime spec has no root.path")?;
        let rootfs = bundle.join(root); // an absolute root.path replaces bundle
        let annotations = spec["annotations"].as_object();
        let annotation = |key: &str| annotations.and_then(|a| a.get(key)?.as_str());
        let sandbox = annotation("io.kubernetes.cri.container-type") == Some("sandbox");
        let mut args = strings(&spec["process"]["args"]);
        if args.is_empty() {
            return Err("the container has no command (process.args is empty): give the image an entrypoint, the .wasm file".into());
        }
        let program = args.remove(0);
        let env = strings(&spec["process"]["env"])
            .into_iter()
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect();

        let network = match spec["linux"]["namespaces"].as_array().and_then(|ns| {
            ns.iter()
                .find(|n| n["type"].as_str() == Some("network"))
                .cloned()
        }) {
            None => Network::Host,
            Some(ns) => match ns["path"].as_str() {
                Some(path) if !path.is_empty() => Network::Join(path.into()),
                _ => Network::New,
            },
        };

        for key in annotations.into_iter().flat_map(|a| a.keys()) {
            if key.starts_with("aio.") && !KNOWN.contains(&key.as_str()) {
                return Err(format!(
                    "unknown annotation {key:?} (aio reads: {})",
                    KNOWN.join(", ")
                ));
            }
        }
        let list = |key: &str| -> Vec<String> {
            annotation(key)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|e| !e.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let allow_net = list("aio.grants/allow-net");
        let allow_listen = list("aio.grants/allow-listen");
        for (key, entries) in [
            ("aio.grants/allow-net", &allow_net),
            ("aio.grants/allow-listen", &allow_listen),
        ] {
            for entry in entries {
                entry
                    .parse::<aio_host::net::NetRule>()
                    .map_err(|e| format!("annotation {key}: {e}"))?;
            }
        }
        let duration = |key: &str| -> Result<Option<Duration>, String> {
            annotation(key)
                .map(|v| parse_duration(v).map_err(|e| format!("annotation {key}: {e}")))
                .transpose()
        };
        let mut max_memory = annotation("aio.limits/max-memory")
            .map(|v| parse_size(v).map_err(|e| format!("annotation aio.limits/max-memory: {e}")))
            .transpose()?;
        if let Some(limit) = spec["linux"]["resources"]["memory"]["limit"].as_i64()
            && limit > 0
        {
            let limit = limit as u64;
            max_memory = Some(max_memory.map_or(limit, |m| m.min(limit)));
        }
        let audit_to_stderr = match annotation("aio.audit/log") {
            None | Some("none") => false,
            Some("stderr") => true,
            Some(other) => {
                return Err(format!(
                    "annotation aio.audit/log: {other:?} is not \"stderr\" or \"none\""
                ));
            }
        };
        let user = &spec["process"]["user"];
        let id = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        let user = User {
            uid: id(&user["uid"]),
            gid: id(&user["gid"]),
            groups: user["additionalGids"]
                .as_array()
                .map(|gids| gids.iter().map(id).collect())
                .unwrap_or_default(),
        };
        Ok(Plan {
            user,
            rootfs,
            program,
            args,
            env,
            sandbox,
            network,
            allow_net,
            allow_listen,
            max_memory,
            max_cpu: duration("aio.limits/max-cpu")?,
            timeout: duration("aio.limits/timeout")?,
            audit_to_stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(annotations: Value) -> Value {
        json!({
            "root": {"path": "rootfs"},
            "process": {
                "args": ["/app.wasm", "8080"],
                "env": ["PATH=/bin", "GREETING=a=b"],
                "user": {"uid": 1000, "gid": 100, "additionalGids": [100, 27]}
            },
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/cni-1"}],
                "resources": {"memory": {"limit": 134217728}}
            },
            "annotations": annotations
        })
    }

    #[test]
    fn reads_the_command_env_network_and_grants() {
        let plan = Plan::from_spec(
            &spec(json!({
                "aio.grants/allow-listen": "0.0.0.0:8080",
                "aio.grants/allow-net": "10.0.0.5:5432, 10.0.0.6:80",
                "aio.limits/max-memory": "64MiB",
                "aio.limits/timeout": "1h",
                "io.kubernetes.cri.container-type": "container"
            })),
            Path::new("/b"),
        )
        .unwrap();
        assert_eq!(plan.rootfs, Path::new("/b/rootfs"));
        assert_eq!(plan.program, "/app.wasm");
        assert_eq!(plan.args, ["8080"]);
        assert_eq!(
            plan.env,
            [
                ("PATH".into(), "/bin".into()),
                ("GREETING".into(), "a=b".into())
            ]
        );
        assert_eq!(plan.network, Network::Join("/var/run/netns/cni-1".into()));
        assert_eq!(plan.allow_listen, ["0.0.0.0:8080"]);
        assert_eq!(plan.allow_net, ["10.0.0.5:5432", "10.0.0.6:80"]);
        // The annotation is lower than the container's 128 MiB.
        assert_eq!(plan.max_memory, Some(64 << 20));
        assert_eq!(plan.timeout, Some(Duration::from_secs(3600)));
        assert!(!plan.sandbox && !plan.audit_to_stderr);
        assert_eq!(
            plan.user,
            User {
                uid: 1000,
                gid: 100,
                groups: vec![100, 27]
            }
        );
    }

    #[test]
    fn denies_by_default_and_takes_the_lower_memory_limit() {
        let plan = Plan::from_spec(
            &spec(json!({"aio.limits/max-memory": "1GiB"})),
            Path::new("/b"),
        )
        .unwrap();
        assert!(plan.allow_net.is_empty() && plan.allow_listen.is_empty());
        assert_eq!(plan.max_memory, Some(128 << 20));
        let mut host = spec(json!({}));
        host["linux"]["namespaces"] = json!([{"type": "pid"}]);
        host["linux"]["resources"] = json!({});
        let plan = Plan::from_spec(&host, Path::new("/b")).unwrap();
        assert_eq!(plan.network, Network::Host);
        assert_eq!(plan.max_memory, None);
        let mut new = spec(json!({}));
        new["linux"]["namespaces"] = json!([{"type": "network"}]);
        assert_eq!(
            Plan::from_spec(&new, Path::new("/b")).unwrap().network,
            Network::New
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let err =
            |annotations: Value| Plan::from_spec(&spec(annotations), Path::new("/b")).unwrap_err();
        assert!(
            err(json!({"aio.grants/allow-lisen": "0.0.0.0:80"}))
                .starts_with("unknown annotation \"aio.grants/allow-lisen\""),
        );
        assert!(err(json!({"aio.grants/allow-run": "/bin/sh"})).contains("unknown annotation"));
        assert!(
            err(json!({"aio.grants/allow-listen": "nowhere"}))
                .starts_with("annotation aio.grants/allow-listen: ")
        );
        assert!(
            err(json!({"aio.limits/timeout": "soon"}))
                .starts_with("annotation aio.limits/timeout: ")
        );
        assert!(err(json!({"aio.audit/log": "/var/log/x"})).contains("not \"stderr\""));
        let mut empty = spec(json!({}));
        empty["process"]["args"] = json!([]);
        assert!(
            Plan::from_spec(&empty, Path::new("/b"))
                .unwrap_err()
                .contains("no command")
        );
    }
}
