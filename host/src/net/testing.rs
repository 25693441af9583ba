//! What the native socket tests share: network access that records its
//! audit lines, and a runtime like a store's.

use super::{NetAccess, NetGrant};
use crate::audit::AuditEvent;
use crate::audit::Decision;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every audited decision, as (capability, target, allowed).
pub(crate) type Seen = Arc<Mutex<Vec<(String, String, bool)>>>;

/// Network access granting `net` (connect) and `listen`, recording
/// every audited decision.
pub(crate) fn access(net: &[&str], listen: &[&str]) -> (NetAccess, Seen) {
    let mut g = NetGrant::default();
    g.add_connect(net.iter().map(|s| s.parse().unwrap()));
    g.add_listen(listen.iter().map(|s| s.parse().unwrap()));
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let hook: crate::audit::AuditHook = Arc::new(move |e: &AuditEvent| {
        if let AuditEvent::Capability(u) = e {
            let allowed = u.decision == Decision::Allowed;
            log.lock()
                .unwrap()
                .push((u.capability.to_string(), u.target.clone(), allowed));
        }
    });
    (NetAccess::new(g, Some(hook), None), seen)
}

/// Runs a test body on a current_thread runtime, as a store runs;
/// a lost wake-up fails it after 10 s instead of hanging.
pub(crate) fn run(body: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), body)
            .await
            .expect("the test body finished in time (a lost wake-up?)")
    });
}
