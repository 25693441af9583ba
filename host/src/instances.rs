//! [`Program::run_instances`]: one server guest on several cores.
//!
//! A guest is one store, and a store runs on one thread at a time, so one
//! guest uses one core. To use more, run more instances of it: each on a
//! thread of its own with a `current_thread` tokio runtime (as `aio run`
//! runs one), each with the same grants and limits, their TCP listeners
//! sharing ports ([`SharedPorts`]): the kernel spreads the connections
//! over the instances (`SO_REUSEPORT`). Instances share nothing else; state
//! one instance keeps in memory the others do not see, as with processes
//! behind one port.
//!
//! When an instance fails (a trap, a limit, a non-zero exit) the others
//! are stopped, so that a server does not go on at a fraction of its
//! capacity unnoticed; an instance that exits with 0 leaves the others
//! serving.

use crate::error::{Error, ErrorKind};
use crate::net::SharedPorts;
use crate::outcome::{Outcome, Status};
use crate::runner::{Program, RunOptions};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{oneshot, watch};

/// Whether an ending stops the other instances.
fn is_failure(status: &Status) -> bool {
    !matches!(status, Status::Exited(0))
}

impl Program {
    /// Runs `n` instances of the program at once, each on its own thread
    /// with its own `current_thread` tokio runtime, all with `options`
    /// (the same arguments, grants and limits: each instance gets the whole
    /// of every limit). Their TCP listeners share ports: a listen on
    /// `127.0.0.1:0` gets one port for all of them (see [`SharedPorts`]).
    /// A [`task_probe`](RunOptions::task_probe) sees the first instance
    /// (one probe per instance: [`run_instances_with`](Self::run_instances_with));
    /// [`Signals`](crate::Signals) reach every instance.
    ///
    /// Returns every instance's outcome, in instance order, once all have
    /// ended (if a thread cannot be started: the outcomes of those that
    /// were, then that failure). The first failure (a trap, a limit, a non-zero exit) stops
    /// the others, whose outcome is then [`ErrorKind::Cancelled`] naming
    /// it. `n == 0` runs nothing.
    pub async fn run_instances(&self, n: usize, options: RunOptions) -> Vec<Outcome> {
        self.run_instances_with(n, |index| {
            let mut options = options.clone();
            if index > 0 {
                options.drop_task_probe();
            }
            options
        })
        .await
    }

    /// As [`run_instances`](Self::run_instances), with each instance's
    /// options from `options(index)` (index 0 is the first): its own
    /// arguments, stdio or task probe, say. The port group, and stopping
    /// the others on a failure, are added to whatever it returns.
    pub async fn run_instances_with(
        &self,
        n: usize,
        options: impl Fn(usize) -> RunOptions,
    ) -> Vec<Outcome> {
        let group = SharedPorts::new();
        let (stop, stopped) = watch::channel(None::<String>);
        let mut ending = FuturesUnordered::new();
        let mut outcomes: Vec<Option<Outcome>> = (0..n).map(|_| None).collect();
        for (index, slot) in outcomes.iter_mut().enumerate() {
            let mut options = options(index);
            options.share_ports(&group);
            let (tx, rx) = oneshot::channel();
            options.stop_on(stopped.clone());
            let program = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("aio-instance-{}", index + 1))
                .spawn(move || {
                    let outcome = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(program.run(options)),
                        Err(e) => failed(ErrorKind::Host, format!("cannot start a runtime: {e}")),
                    };
                    let _ = tx.send(outcome);
                });
            if let Err(e) = spawned {
                // Stop what was started: a server at part capacity is the
                // failure this avoids.
                let _ = stop.send(Some(format!("instance {} could not start", index + 1)));
                *slot = Some(failed(
                    ErrorKind::Host,
                    format!("cannot start a thread: {e}"),
                ));
                break;
            }
            ending.push(async move { (index, rx.await) });
        }
        while let Some((index, outcome)) = ending.next().await {
            let outcome = outcome.unwrap_or_else(|_| {
                failed(ErrorKind::Host, "the instance's thread panicked".into())
            });
            if is_failure(outcome.status()) && stop.borrow().is_none() {
                let _ = stop.send(Some(format!("instance {} failed", index + 1)));
            }
            outcomes[index] = Some(outcome);
        }
        outcomes.into_iter().flatten().collect()
    }
}

fn failed(kind: ErrorKind, message: String) -> Outcome {
    Outcome::new(
        Status::Failed(Error::new(kind, message)),
        Vec::new(),
        Vec::new(),
    )
}
