//! Grant parsers: what an operator writes after `--allow-net=`,
//! `--allow-listen=`, `--allow-unix=`, `--allow-run=`, `--allow-read=` and
//! `--allow-write=`, and the names `aio inspect` annotates with a grant.
//!
//! The first byte picks the parser; the rest is the text. Names in a net
//! entry are resolved when the grant is made, and a fuzzer must not send
//! arbitrary names to the resolver (slow, and out of this machine): a name
//! is replaced by `localhost`, which resolves from `/etc/hosts`.

use super::assert_one_line;
use crate::fs::{FsAccess, FsRule};
use crate::net::NetRule;
use crate::net::unix::UnixRule;
use crate::process::RunGrant;
use std::net::{IpAddr, SocketAddr};

/// Parses one grant; see the module docs.
pub fn grant_rules(data: &[u8]) {
    let Some((&which, text)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    match which % 5 {
        // As clap gives them: the flag's value split at commas.
        0 => {
            for entry in text.split(',') {
                net_rule(&without_names(entry));
            }
        }
        1 => unix_rule(&text),
        2 => {
            let mut grant = RunGrant::default();
            grant.add(text.split(','));
            // Every non-empty entry is kept, found or not.
            assert_eq!(grant.is_empty(), text.split(',').all(str::is_empty));
        }
        3 => {
            let _ = crate::policy::grant_note(&text);
        }
        _ => fs_rule(&text),
    }
}

/// `entry` with a host name (what is neither `*`, an IP address nor
/// bracketed) replaced by `localhost`.
fn without_names(entry: &str) -> String {
    let trimmed = entry.trim();
    if trimmed.starts_with('[') {
        return entry.to_owned();
    }
    let (host, port) = match trimmed.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (trimmed, None),
    };
    if host.is_empty() || host == "*" || host.parse::<IpAddr>().is_ok() {
        return entry.to_owned();
    }
    match port {
        Some(port) => format!("localhost:{port}"),
        None => "localhost".to_owned(),
    }
}

fn net_rule(entry: &str) {
    let rule = match entry.parse::<NetRule>() {
        Ok(rule) => rule,
        Err(e) => return assert_one_line(&e.to_string()),
    };
    // What the audit log and error messages name: the entry as written.
    assert_eq!(rule.as_str(), entry.trim());
    assert_eq!(rule.to_string(), rule.as_str());
    // Written again, it is the same grant.
    let again: NetRule = rule.as_str().parse().expect("a grant reparses");
    assert_eq!(again, rule);
    // An address and its IPv4-mapped IPv6 form are one address to a grant.
    for (ip, port) in [("127.0.0.1", 80), ("10.1.2.3", 0), ("0.0.0.0", 65535)] {
        let v4: std::net::Ipv4Addr = ip.parse().expect("a literal");
        let mapped = SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), port);
        assert_eq!(
            rule.matches(SocketAddr::new(IpAddr::V4(v4), port)),
            rule.matches(mapped),
            "{entry:?} and {mapped}"
        );
    }
    // A literal `HOST:PORT` grant covers that very address.
    if let Ok(addr) = entry.trim().parse::<SocketAddr>() {
        assert!(rule.matches(addr), "{entry:?} does not cover {addr}");
    }
}

fn unix_rule(path: &str) {
    let rule = match UnixRule::new(path) {
        Ok(rule) => rule,
        Err(e) => return assert_one_line(&e.to_string()),
    };
    // Shown as an absolute path, which grants the same thing again.
    let shown = rule.to_string();
    assert!(shown.starts_with('/'), "{path:?} shown as {shown:?}");
    assert_eq!(UnixRule::new(&shown).as_ref(), Ok(&rule), "{path:?}");
}

fn fs_rule(dir: &str) {
    let rule = match FsRule::new(dir, FsAccess::Read) {
        Ok(rule) => rule,
        Err(e) => return assert_one_line(&e.to_string()),
    };
    // The guest sees it as an absolute, resolved, UTF-8 path, which grants
    // the same directory again.
    let seen = rule.guest_path();
    assert!(
        seen.is_absolute() && seen.to_str().is_some(),
        "{dir:?}: {seen:?}"
    );
    let again = FsRule::new(seen, FsAccess::Read).expect("its own path grants");
    assert_eq!(again.guest_path(), seen, "{dir:?}");
}
