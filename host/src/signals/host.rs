//! Glue: the generated `aio:host/signals` traits over [`RunSignals`].

use super::{Disposition, RunSignals, Signal};
use crate::bindings::aio::host::signals as wit;
use std::sync::Arc;
use wasmtime::component::{Accessor, HasData};

/// What the `aio:host/signals` glue works on: the run's signal state.
pub(crate) struct SignalsView<'a>(pub(crate) &'a Arc<RunSignals>);

/// The [`HasData`] marker of `aio:host/signals`.
pub(crate) struct SignalsData;

impl HasData for SignalsData {
    type Data<'a> = SignalsView<'a>;
}

impl From<wit::Signal> for Signal {
    fn from(s: wit::Signal) -> Self {
        match s {
            wit::Signal::Hangup => Signal::Hangup,
            wit::Signal::Interrupt => Signal::Interrupt,
            wit::Signal::User1 => Signal::User1,
            wit::Signal::User2 => Signal::User2,
            wit::Signal::Terminate => Signal::Terminate,
            wit::Signal::WindowChange => Signal::WindowChange,
        }
    }
}

impl From<Signal> for wit::Signal {
    fn from(s: Signal) -> Self {
        match s {
            Signal::Hangup => wit::Signal::Hangup,
            Signal::Interrupt => wit::Signal::Interrupt,
            Signal::User1 => wit::Signal::User1,
            Signal::User2 => wit::Signal::User2,
            Signal::Terminate => wit::Signal::Terminate,
            Signal::WindowChange => wit::Signal::WindowChange,
        }
    }
}

impl From<wit::Disposition> for Disposition {
    fn from(d: wit::Disposition) -> Self {
        match d {
            wit::Disposition::Default => Disposition::Default,
            wit::Disposition::Handle => Disposition::Handle,
            wit::Disposition::Graceful => Disposition::Graceful,
        }
    }
}

impl wit::Host for SignalsView<'_> {
    fn set_disposition(
        &mut self,
        signal: wit::Signal,
        disposition: wit::Disposition,
    ) -> wasmtime::Result<()> {
        self.0.set_disposition(signal.into(), disposition.into());
        Ok(())
    }
}

impl<U> wit::HostWithStore<U> for SignalsData {
    async fn next(store: &Accessor<U, Self>) -> wasmtime::Result<wit::Signal> {
        let run = store.with(|mut view| view.get().0.clone());
        Ok(run.next().await.into())
    }
}
