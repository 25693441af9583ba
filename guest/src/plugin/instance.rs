//! The instance's loop: one per component instance, created by the first
//! call, and its driver task.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::cancels::Cancels;
use crate::runner::Runner;
use crate::runtime::LoopInner;
use crate::runtime::clock::Clock;

/// `#[asyncio::plugin(...)]`'s options. The first export call that brings
/// options applies them to the instance's loop.
#[doc(hidden)]
#[derive(Debug)]
pub struct Options {
    /// Debug mode; `None`: from `ASYNCIO_DEBUG`, as `Runner`.
    pub debug: Option<bool>,
    /// Eager tasks (`create_task` runs the first step at once).
    pub eager_tasks: bool,
}

/// A plugin instance's loop and the state of its driver.
pub(crate) struct Instance {
    lp: Rc<LoopInner>,
    /// The options of a `#[asyncio::plugin]` have been applied.
    configured: Cell<bool>,
    /// A driver task is turning the loop.
    #[cfg_attr(not(all(target_arch = "wasm32", feature = "plugin")), allow(dead_code))]
    driver: Rc<Cell<bool>>,
    /// The calls the host may cancel.
    cancels: Rc<Cancels>,
    /// A reader of the host's cancellations is running.
    #[cfg_attr(not(all(target_arch = "wasm32", feature = "plugin")), allow(dead_code))]
    watching: Rc<Cell<bool>>,
}

thread_local! {
    static INSTANCE: RefCell<Option<Rc<Instance>>> = const { RefCell::new(None) };
}

/// The instance's loop, created on first use.
pub(crate) fn get(options: Option<&Options>) -> Rc<Instance> {
    let instance = INSTANCE.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                Rc::new(Instance {
                    lp: Runner::new().make_loop(Clock::Host),
                    configured: Cell::new(false),
                    driver: Rc::new(Cell::new(false)),
                    cancels: Rc::default(),
                    watching: Rc::new(Cell::new(false)),
                })
            })
            .clone()
    });
    if let Some(options) = options
        && !instance.configured.replace(true)
    {
        instance.configure(options);
    }
    instance
}

impl Instance {
    pub(crate) fn lp(&self) -> &Rc<LoopInner> {
        &self.lp
    }

    pub(crate) fn cancels(&self) -> &Rc<Cancels> {
        &self.cancels
    }

    fn configure(&self, options: &Options) {
        let mut runner = Runner::new().eager_tasks(options.eager_tasks);
        if let Some(debug) = options.debug {
            runner = runner.debug(debug);
        }
        runner.configure(&self.lp);
    }

    /// Starts the driver unless one is alive, and the reader of the host's
    /// cancellations unless one runs: they join the component-model task
    /// that is running now (the host's `start` call, or this export call,
    /// which then returns as usual and lives on as the driver).
    pub(crate) fn ensure_driver(&self) {
        #[cfg(all(target_arch = "wasm32", feature = "plugin"))]
        {
            use crate::__private::wit_bindgen::spawn_local;
            if !self.driver.get() {
                use crate::runtime::run::HostPark;
                use crate::runtime::serve::ServeLoop;
                let driver = ServeLoop::new(self.lp.clone(), HostPark::new(), self.driver.clone());
                spawn_local(driver);
            }
            if !self.watching.replace(true) {
                spawn_local(super::cancels::watch(
                    self.cancels.clone(),
                    self.watching.clone(),
                ));
            }
        }
        #[cfg(all(target_arch = "wasm32", not(feature = "plugin")))]
        panic!(
            "asyncio: plugins need the `plugin` feature of the asyncio crate \
             (asyncio = {{ version = \"...\", features = [\"plugin\"] }})"
        );
    }
}
