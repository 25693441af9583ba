//! Call graph introspection (asyncio 3.14's `capture_call_graph`,
//! `format_call_graph`, `print_call_graph`) and the table behind
//! `python -m asyncio ps` / `pstree` ([`task_table`], and the tree at the
//! end of [`task_dump`](super::task_dump)).
//!
//! Every task records the tasks that await it, as asyncio's `awaited_by`
//! set does:
//!
//! - awaiting a [`Task`](super::Task): the awaiting task, while it waits
//!   (until the task is done or the await is dropped);
//! - [`TaskGroup::create_task`](super::TaskGroup::create_task): the task
//!   that runs the group, until the child is done;
//! - [`gather()`](super::gather()), [`gather_all`](super::gather_all),
//!   [`gather!`](crate::gather!) and [`as_completed()`](super::as_completed()):
//!   the task that called them, until the gather (or the stream) is dropped;
//! - [`shield()`](super::shield()): the task that shields, until the shield
//!   is awaited to the end or dropped;
//! - [`wait()`](super::wait()): the waiting task, until the wait returns or
//!   is dropped.
//!
//! Rust has no coroutine frames to walk, so where Python shows a call
//! stack, the graph shows what the task is suspended in, as the task dump
//! says it (`awaiting sleep (0.100s left)`, `awaiting its TaskGroup (2
//! pending)`). Only tasks that are not done appear as awaiters.
//!
//! ```no_run
//! # async fn demo() -> asyncio::Result<()> {
//! let child = asyncio::create_named_task("child", async {
//!     let me = asyncio::current_task().unwrap();
//!     asyncio::sleep(std::time::Duration::from_millis(10)).await?;
//!     Ok(me)
//! });
//! let graph_of = child.task_ref();
//! let waiter = asyncio::create_task(async move { child.await });
//! asyncio::yield_now().await?;
//! asyncio::print_call_graph(&graph_of);
//! // * Task(name='child', id=2)
//! //   + awaiting sleep (0.010s left)
//! //   + Awaited by:
//! //     * Task(name='Task-3', id=3)
//! //       + awaiting task #2
//! # waiter.await?; Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::{TaskRef, describe_state};
use crate::runtime::task::{Header, TaskRun};
use crate::runtime::{self, LoopInner};

/// The call graph of one task (asyncio's `FutureCallGraph(future,
/// call_stack, awaited_by)`): the task, what it is suspended in (standing
/// in for the call stack), and the graphs of the tasks that await it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallGraph {
    /// The task (asyncio's `future`).
    pub task: TaskRef,
    /// What the task is suspended in, as [`TaskRef::awaiting`] says it
    /// (`running` for the task asking); asyncio's `call_stack`.
    pub awaiting: String,
    /// The graphs of the pending tasks that await this one, by task id. A
    /// task already on the way from the root to here is left out (a cycle
    /// of awaits ends there).
    pub awaited_by: Vec<CallGraph>,
}

/// One pending task, as `python -m asyncio ps` lists it (and as the
/// `aio:host/control` export `task-table` gives it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// The task's id ([`TaskRef::id`]), unique for the loop's life.
    pub id: u64,
    /// The task's name ([`TaskRef::get_name`]).
    pub name: String,
    /// `running` (the task asking), `cancelling` (a cancellation is
    /// pending: [`TaskRef::cancelling`] is not 0) or `pending`.
    pub state: String,
    /// What it is suspended in, as the task dump says it.
    pub awaiting: String,
    /// The ids of the pending tasks that await it (asyncio's
    /// `awaited_by`), ascending.
    pub awaited_by: Vec<u64>,
}

/// The call graph of `task`, following its awaiters up to the tasks that
/// nobody awaits (asyncio's `capture_call_graph(future)`). `None` outside
/// a running loop.
pub fn capture_call_graph(task: &TaskRef) -> Option<CallGraph> {
    let lp = runtime::try_current_loop()?;
    let snapshot = Snapshot::take(&lp);
    let mut path = Vec::new();
    Some(snapshot.graph(&task.cell, &mut path))
}

/// The call graph of `task` as text, in asyncio 3.14's layout (its
/// `format_call_graph(future)`), without a final newline; empty outside a
/// running loop:
///
/// ```text
/// * Task(name='track 2', id=7)
///   + awaiting sleep (0.100s left)
///   + Awaited by:
///     * Task(name='album A', id=3)
///       + awaiting its TaskGroup (2 pending)
///       + Awaited by:
///         * Task(name='main', id=1)
///           + awaiting its TaskGroup (1 pending)
/// ```
///
/// Each level of awaiters is indented four more spaces, as asyncio does.
pub fn format_call_graph(task: &TaskRef) -> String {
    let Some(graph) = capture_call_graph(task) else {
        return String::new();
    };
    let mut lines = Vec::new();
    render_graph(&graph, 0, &mut lines);
    lines.join("\n")
}

/// Prints [`format_call_graph`] on stdout (asyncio's
/// `print_call_graph(future)`).
pub fn print_call_graph(task: &TaskRef) {
    println!("{}", format_call_graph(task));
}

/// Every pending task of the running loop, by id (what `python -m asyncio
/// ps` lists); empty outside a running loop.
pub fn task_table() -> Vec<TaskInfo> {
    match runtime::try_current_loop() {
        Some(lp) => Snapshot::take(&lp).table(),
        None => Vec::new(),
    }
}

fn render_graph(graph: &CallGraph, level: usize, lines: &mut Vec<String>) {
    let indent = "    ".repeat(level);
    lines.push(format!(
        "{indent}* Task(name={}, id={})",
        py_repr(&graph.task.get_name()),
        graph.task.id()
    ));
    lines.push(format!("{indent}  + {}", graph.awaiting));
    if !graph.awaited_by.is_empty() {
        lines.push(format!("{indent}  + Awaited by:"));
        for g in &graph.awaited_by {
            render_graph(g, level + 1, lines);
        }
    }
}

/// A string as Python's `repr` writes it (`'name'`, or `"it's"`).
fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The pending tasks of a loop at one moment.
pub(super) struct Snapshot {
    now: u64,
    /// The task asking (0: none).
    current: u64,
    tasks: BTreeMap<u64, Rc<dyn TaskRun>>,
}

impl Snapshot {
    pub(super) fn take(lp: &LoopInner) -> Snapshot {
        Snapshot {
            now: lp.clock.now(),
            current: runtime::current_task().map_or(0, |t| t.header().id),
            tasks: lp
                .user_tasks()
                .into_iter()
                .map(|t| (t.header().id, t))
                .collect(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// The pending tasks, by id.
    pub(super) fn tasks(&self) -> impl Iterator<Item = &Header> {
        self.tasks.values().map(|t| t.header())
    }

    /// The ids of the pending tasks that await `h`, ascending.
    pub(super) fn awaited_by(&self, h: &Header) -> Vec<u64> {
        let mut ids = h.awaited_by();
        ids.retain(|id| self.tasks.contains_key(id));
        ids
    }

    /// What `h` is suspended in (`running` for the task asking).
    pub(super) fn awaiting(&self, h: &Header) -> String {
        if h.id == self.current {
            "running".into()
        } else {
            describe_state(h, self.now)
        }
    }

    fn state(&self, h: &Header) -> &'static str {
        if h.id == self.current {
            "running"
        } else if h.num_cancels_requested.get() > 0 {
            "cancelling"
        } else {
            "pending"
        }
    }

    fn graph(&self, task: &Rc<dyn TaskRun>, path: &mut Vec<u64>) -> CallGraph {
        let h = task.header();
        path.push(h.id);
        let mut awaited_by = Vec::new();
        for id in self.awaited_by(h) {
            if !path.contains(&id) {
                awaited_by.push(self.graph(&self.tasks[&id], path));
            }
        }
        path.pop();
        CallGraph {
            task: TaskRef::from_rc(task.clone()),
            awaiting: self.awaiting(h),
            awaited_by,
        }
    }

    fn table(&self) -> Vec<TaskInfo> {
        self.tasks()
            .map(|h| TaskInfo {
                id: h.id,
                name: h.name(),
                state: self.state(h).to_owned(),
                awaiting: self.awaiting(h),
                awaited_by: self.awaited_by(h),
            })
            .collect()
    }

    /// The tasks as a tree, as `python -m asyncio pstree` draws it: the
    /// tasks nobody awaits at the top, under each task the tasks it awaits.
    /// One line per task, each starting with `indent`.
    pub(super) fn tree(&self, indent: &str) -> String {
        // Children: the tasks each task awaits, by id.
        let mut children: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        let mut roots = Vec::new();
        for h in self.tasks() {
            let by = self.awaited_by(h);
            if by.is_empty() {
                roots.push(h.id);
            }
            for a in by {
                children.entry(a).or_default().push(h.id);
            }
        }
        let mut tree = Tree {
            snapshot: self,
            children: &children,
            seen: BTreeSet::new(),
            path: Vec::new(),
            indent,
            out: String::new(),
        };
        for id in roots {
            tree.render(id, "", true);
        }
        // Tasks only reachable from a cycle of awaits (nobody at the top).
        for h in self.tasks() {
            if !tree.seen.contains(&h.id) {
                tree.render(h.id, "", true);
            }
        }
        tree.out
    }
}

struct Tree<'a> {
    snapshot: &'a Snapshot,
    children: &'a BTreeMap<u64, Vec<u64>>,
    seen: BTreeSet<u64>,
    path: Vec<u64>,
    indent: &'a str,
    out: String,
}

impl Tree<'_> {
    fn render(&mut self, id: u64, prefix: &str, last: bool) {
        let name = self.snapshot.tasks[&id].header().name();
        let branch = if last { "└── " } else { "├── " };
        let cycle = self.path.contains(&id);
        let mark = if cycle { " (cycle)" } else { "" };
        self.out.push_str(&format!(
            "{}{prefix}{branch}(T) {name}{mark}\n",
            self.indent
        ));
        if cycle {
            return;
        }
        self.seen.insert(id);
        self.path.push(id);
        let prefix = format!("{prefix}{}", if last { "    " } else { "│   " });
        let kids = self.children.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        for (i, &kid) in kids.iter().enumerate() {
            self.render(kid, &prefix, i + 1 == kids.len());
        }
        self.path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn names_are_quoted_as_python_repr_quotes_them() {
        assert_eq!(py_repr("main"), "'main'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("a\\b\nc"), "'a\\\\b\\nc'");
    }
}
