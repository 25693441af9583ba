//! [`SharedPorts`]: several runs of one server listening as one.
//!
//! `aio run --instances N` runs N instances of a guest, each on its own
//! thread; each instance binds and listens as if it were alone. For them
//! to serve one port, every TCP bind of an instance in the group sets
//! `SO_REUSEPORT` (the kernel then spreads new connections over the
//! listeners) and a bind to port 0 (any free port) is made to the port the
//! group's first such bind got, so `127.0.0.1:0` means the same port in
//! every instance.
//!
//! Which bind is "the same" is decided by order: an instance's k-th bind
//! to a given address (say `127.0.0.1:0`) shares the port of every other
//! instance's k-th bind to that address. Instances of one program make the
//! same binds in the same order, which is what the group is for.
//!
//! The grants are unchanged: each bind is checked and audited as the guest
//! asked for it (`127.0.0.1:0` needs a listen grant with port 0), and the
//! port it gets was already bound by an instance with the same grants.
//! `SO_REUSEPORT` lets another process of the same user bind the port too
//! and take a share of its connections (Linux admits only the same user);
//! only runs in a group set it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A group of runs whose TCP listeners share their ports (see the module
/// docs). Give every run of the group a clone, through
/// [`Grants::share_ports`](crate::Grants::share_ports).
#[derive(Debug, Clone, Default)]
pub struct SharedPorts {
    /// (address asked for, k-th bind to it) -> the address the group got.
    ports: Arc<Mutex<HashMap<(SocketAddr, usize), SocketAddr>>>,
}

impl SharedPorts {
    /// An empty group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `asked` for one run of the group, whose binds to `asked` so
    /// far are counted in `count`: the group's port for it if another run
    /// got there first, else a new one. `bind` does the system call (with
    /// `SO_REUSEPORT` set) and returns the bound address.
    pub(crate) fn bind<E>(
        &self,
        asked: SocketAddr,
        count: &mut HashMap<SocketAddr, usize>,
        bind: impl FnOnce(SocketAddr) -> Result<SocketAddr, E>,
    ) -> Result<(), E> {
        let nth = count.entry(asked).or_default();
        let key = (asked, *nth);
        *nth += 1;
        // Held across the bind, so that two first binds cannot both make a
        // port of their own.
        let mut ports = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        let target = ports.get(&key).copied().unwrap_or(asked);
        let bound = bind(target)?;
        ports.entry(key).or_insert(bound);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kth_binds_share_the_first_port() {
        let group = SharedPorts::new();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let fixed: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let mut next = 40000;
        let mut bind = |addr: SocketAddr| -> Result<SocketAddr, ()> {
            if addr.port() != 0 {
                return Ok(addr);
            }
            next += 1;
            Ok(SocketAddr::new(addr.ip(), next))
        };
        let mut seen = Vec::new();
        for _run in 0..3 {
            let mut count = HashMap::new();
            let mut got = Vec::new();
            for asked in [any, fixed, any] {
                let mut bound = None;
                group
                    .bind(asked, &mut count, |a| {
                        let b = bind(a)?;
                        bound = Some(b);
                        Ok::<_, ()>(b)
                    })
                    .unwrap();
                got.push(bound.unwrap());
            }
            seen.push(got);
        }
        // The first run got two ports for its two binds to port 0; the
        // others reused them, in the same order.
        assert_eq!(seen[0][0].port(), 40001);
        assert_eq!(seen[0][2].port(), 40002);
        assert!(seen.iter().all(|run| run == &seen[0]), "{seen:?}");
    }

    #[test]
    fn a_failed_first_bind_leaves_the_slot_free() {
        let group = SharedPorts::new();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut count = HashMap::new();
        assert_eq!(
            group.bind(any, &mut count, |_| Err::<SocketAddr, _>("busy")),
            Err("busy")
        );
        let mut count = HashMap::new();
        let got: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        group.bind(any, &mut count, |_| Ok::<_, ()>(got)).unwrap();
        let mut count = HashMap::new();
        let mut asked_for = None;
        group
            .bind(any, &mut count, |a| {
                asked_for = Some(a);
                Ok::<_, ()>(a)
            })
            .unwrap();
        assert_eq!(asked_for, Some(got));
    }
}
