//! A live guest's asyncio tasks, seen from the host: the table the SDK's
//! `aio:host/control.task-table` export gives, and the forms `aio ps` and
//! `aio pstree` print it in (those of Python 3.14's `python -m asyncio ps`
//! and `pstree`, with what a task awaits in place of coroutine frames,
//! which a Rust guest does not have).
//!
//! A plugin's table comes from [`Instance::task_table`](crate::Instance::task_table);
//! a program's, while it runs, from a [`TaskProbe`] given to
//! [`RunOptions::task_probe`](crate::RunOptions::task_probe).
//!
//! ```text
//! $ aio pstree 4242
//! └── (T) main
//!     └──  awaiting its TaskGroup (2 pending)
//!         ├── (T) album A
//!         │   └──  awaiting its TaskGroup (2 pending)
//!         │       ├── (T) track A1
//!         │       │   └──  awaiting sleep (0.412s left)
//! ```

use crate::error::{Error, ErrorKind};
use crate::store::RunState;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, Func, Val};

/// The interface a guest built with the SDK exports (without its version).
pub(crate) const CONTROL: &str = "aio:host/control";

/// One pending task of a guest's loop.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskInfo {
    /// Unique for the loop's life.
    pub id: u64,
    /// `Task-<id>` unless the guest named it.
    pub name: String,
    /// `running`, `pending` or `cancelling`.
    pub state: String,
    /// What it is suspended in (`awaiting sleep (1.000s left)`).
    pub awaiting: String,
    /// The tasks that await it (asyncio's `awaited_by`).
    pub awaited_by: Vec<u64>,
}

impl TaskInfo {
    /// Reads the `list<task-info>` that `task-table` returns.
    pub(crate) fn list_from_val(val: &Val) -> Result<Vec<TaskInfo>, String> {
        let Val::List(items) = val else {
            return Err(format!("task-table returned {val:?}, not a list"));
        };
        items.iter().map(TaskInfo::from_val).collect()
    }

    fn from_val(val: &Val) -> Result<TaskInfo, String> {
        let Val::Record(fields) = val else {
            return Err(format!("a task-info that is not a record: {val:?}"));
        };
        let mut info = TaskInfo {
            id: 0,
            name: String::new(),
            state: String::new(),
            awaiting: String::new(),
            awaited_by: Vec::new(),
        };
        for (field, value) in fields {
            match (field.as_str(), value) {
                ("id", Val::U64(id)) => info.id = *id,
                ("name", Val::String(s)) => info.name = s.clone(),
                ("state", Val::String(s)) => info.state = s.clone(),
                ("awaiting", Val::String(s)) => info.awaiting = s.clone(),
                ("awaited-by", Val::List(ids)) => {
                    for id in ids {
                        match id {
                            Val::U64(id) => info.awaited_by.push(*id),
                            other => return Err(format!("an awaited-by id {other:?}")),
                        }
                    }
                }
                (name, value) => return Err(format!("task-info field {name}: {value:?}")),
            }
        }
        Ok(info)
    }
}

/// The table in the form of `python -m asyncio ps`: one row per task and
/// awaiter (a task nobody awaits has one row, awaiter id 0).
pub fn format_ps(tasks: &[TaskInfo]) -> String {
    let names: BTreeMap<u64, &str> = tasks.iter().map(|t| (t.id, t.name.as_str())).collect();
    let mut rows: Vec<[String; 6]> = Vec::new();
    for t in tasks {
        let row = |awaiter: Option<u64>| {
            [
                t.id.to_string(),
                t.name.clone(),
                t.state.clone(),
                t.awaiting.clone(),
                awaiter
                    .map(|a| names.get(&a).copied().unwrap_or("?").to_owned())
                    .unwrap_or_default(),
                awaiter.unwrap_or(0).to_string(),
            ]
        };
        if t.awaited_by.is_empty() {
            rows.push(row(None));
        }
        for &awaiter in &t.awaited_by {
            rows.push(row(Some(awaiter)));
        }
    }
    let header = [
        "task id",
        "task name",
        "state",
        "awaiting",
        "awaiter name",
        "awaiter id",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &header);
    let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&mut out, &cells);
    }
    out
}

/// The table as a tree, in the form of `python -m asyncio pstree`: each
/// task (`(T) name`) under what it awaits in its awaiter, from the tasks
/// nobody awaits down. A task awaited by several appears under each; a
/// cycle is cut where it closes (`(cycle)`), and tasks only a cycle
/// reaches hang from the first of them, as an extra root.
pub fn format_pstree(tasks: &[TaskInfo]) -> String {
    let by_id: BTreeMap<u64, &TaskInfo> = tasks.iter().map(|t| (t.id, t)).collect();
    let mut children: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut roots = Vec::new();
    for t in tasks {
        let awaiters: Vec<u64> = t
            .awaited_by
            .iter()
            .copied()
            .filter(|a| by_id.contains_key(a))
            .collect();
        if awaiters.is_empty() {
            roots.push(t.id);
        }
        for a in awaiters {
            children.entry(a).or_default().push(t.id);
        }
    }
    // Tasks only a cycle reaches get drawn from their lowest id, as extra
    // roots (below), so every task appears, as in the SDK's own dump.
    if roots.is_empty()
        && let Some(first) = tasks.first()
    {
        roots.push(first.id);
    }
    let mut tree = Tree {
        by_id,
        children,
        out: String::new(),
        path: HashSet::new(),
        drawn: HashSet::new(),
    };
    let mut i = 0;
    while i < roots.len() {
        tree.node(roots[i], "", i + 1 == roots.len());
        if i + 1 == roots.len()
            && let Some(next) = tasks
                .iter()
                .map(|t| t.id)
                .find(|id| !tree.drawn.contains(id))
        {
            roots.push(next);
        }
        i += 1;
    }
    tree.out
}

/// A tree being drawn: the table, and where the drawing is.
struct Tree<'a> {
    by_id: BTreeMap<u64, &'a TaskInfo>,
    children: BTreeMap<u64, Vec<u64>>,
    out: String,
    /// The tasks from the root down to the one being drawn.
    path: HashSet<u64>,
    drawn: HashSet<u64>,
}

impl Tree<'_> {
    fn node(&mut self, id: u64, prefix: &str, last: bool) {
        let (branch, more) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let task = self.by_id[&id];
        self.drawn.insert(id);
        if !self.path.insert(id) {
            let _ = writeln!(self.out, "{prefix}{branch}(T) {} (cycle)", task.name);
            return;
        }
        let _ = writeln!(self.out, "{prefix}{branch}(T) {}", task.name);
        // What the task awaits is its one "frame"; its awaitees hang below.
        let inner = format!("{prefix}{more}");
        let _ = writeln!(self.out, "{inner}└──  {}", task.awaiting);
        let below = format!("{inner}    ");
        let kids = self.children.get(&id).cloned().unwrap_or_default();
        for (i, &kid) in kids.iter().enumerate() {
            self.node(kid, &below, i + 1 == kids.len());
        }
        self.path.remove(&id);
    }
}

/// The table as one JSON object: `{"tasks":[{"id":1,"name":"main",...}]}`.
pub fn format_json(tasks: &[TaskInfo]) -> String {
    #[derive(serde::Serialize)]
    struct Table<'a> {
        tasks: &'a [TaskInfo],
    }
    // Strings and integers into a String: cannot fail.
    serde_json::to_string(&Table { tasks }).expect("a task table serializes")
}

/// The `task-table` function of the component's `aio:host/control`
/// export, if it has one.
pub(crate) fn control_func(engine: &Engine, component: &Component) -> Option<ComponentExportIndex> {
    let ty = component.component_type();
    for (name, item) in ty.exports(engine) {
        if name.split('@').next() == Some(CONTROL)
            && matches!(item.ty, ComponentItem::ComponentInstance(_))
        {
            let parent = component.get_export_index(None, name)?;
            return component.get_export_index(Some(&parent), "task-table");
        }
    }
    None
}

/// Calls the guest's `task-table` for one request.
pub(crate) async fn answer_table(
    accessor: &wasmtime::component::Accessor<RunState>,
    table: Option<Func>,
    reply: TableRequest,
) {
    let Some(table) = table else {
        let _ = reply.send(Err(Error::new(
            ErrorKind::NoSuchExport,
            "the program does not export aio:host/control.task-table (not built with this asyncio SDK)",
        )));
        return;
    };
    let mut results = [Val::Bool(false)];
    let answer = match table.call_concurrent(accessor, &[], &mut results).await {
        Ok(()) => TaskInfo::list_from_val(&results[0])
            .map_err(|why| Error::new(ErrorKind::Host, format!("task-table: {why}"))),
        Err(e) => Err(Error::host("task-table", &e)),
    };
    let _ = reply.send(answer);
}

/// A request for the table, answered by the run it is attached to.
pub(crate) type TableRequest = oneshot::Sender<Result<Vec<TaskInfo>, Error>>;

/// Asks a running program for its task table (`aio ps`). Give it to
/// [`RunOptions::task_probe`](crate::RunOptions::task_probe); while the
/// run lasts, [`task_table`](Self::task_table) answers from the guest.
/// Clones are the same probe.
#[derive(Debug, Clone, Default)]
pub struct TaskProbe {
    run: Arc<Mutex<Option<mpsc::UnboundedSender<TableRequest>>>>,
}

impl TaskProbe {
    /// A probe attached to no run yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The running program's tasks. Fails with [`ErrorKind::Closed`] when
    /// no run is attached (not started, or ended) and
    /// [`ErrorKind::NoSuchExport`] for a program not built with the SDK.
    /// The guest pauses only while its table is made.
    pub async fn task_table(&self) -> Result<Vec<TaskInfo>, Error> {
        let (reply, answer) = oneshot::channel();
        let sent = self
            .run
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|tx| tx.send(reply).is_ok());
        let gone = || Error::new(ErrorKind::Closed, "no program is running");
        if !sent {
            return Err(gone());
        }
        answer.await.unwrap_or_else(|_| Err(gone()))
    }

    /// Attaches a run: its requests come out of the receiver.
    pub(crate) fn attach(&self) -> mpsc::UnboundedReceiver<TableRequest> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.run.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: u64, name: &str, awaiting: &str, awaited_by: &[u64]) -> TaskInfo {
        TaskInfo {
            id,
            name: name.into(),
            state: "pending".into(),
            awaiting: awaiting.into(),
            awaited_by: awaited_by.to_vec(),
        }
    }

    fn albums() -> Vec<TaskInfo> {
        vec![
            task(1, "main", "awaiting its TaskGroup (2 pending)", &[]),
            task(2, "album A", "awaiting its TaskGroup (1 pending)", &[1]),
            task(3, "album B", "awaiting its TaskGroup (1 pending)", &[1]),
            task(4, "track A1", "awaiting sleep (1.000s left)", &[2]),
            task(5, "track B1", "awaiting sleep (2.000s left)", &[3]),
        ]
    }

    #[test]
    fn pstree_nests_tasks_under_what_their_awaiters_await() {
        assert_eq!(
            format_pstree(&albums()),
            "\
└── (T) main
    └──  awaiting its TaskGroup (2 pending)
        ├── (T) album A
        │   └──  awaiting its TaskGroup (1 pending)
        │       └── (T) track A1
        │           └──  awaiting sleep (1.000s left)
        └── (T) album B
            └──  awaiting its TaskGroup (1 pending)
                └── (T) track B1
                    └──  awaiting sleep (2.000s left)
"
        );
    }

    #[test]
    fn pstree_cuts_cycles_and_ps_has_a_row_per_awaiter() {
        let cycle = vec![task(1, "a", "x", &[2]), task(2, "b", "y", &[1])];
        assert_eq!(
            format_pstree(&cycle),
            "\
└── (T) a
    └──  x
        └── (T) b
            └──  y
                └── (T) a (cycle)
"
        );
        let mut tasks = albums();
        tasks.push(task(6, "shared", "awaiting a Lock", &[4, 5]));
        let tree = format_pstree(&tasks);
        assert_eq!(tree.matches("(T) shared").count(), 2, "{tree}");
        let ps = format_ps(&tasks);
        let lines: Vec<&str> = ps.lines().collect();
        assert!(lines[0].starts_with("task id  task name"), "{ps}");
        assert!(lines[1].chars().all(|c| c == '-'), "{ps}");
        assert_eq!(lines.len(), 2 + 5 + 2, "{ps}");
        assert_eq!(
            lines[2],
            "1        main       pending  awaiting its TaskGroup (2 pending)                0"
        );
        assert_eq!(
            lines[7],
            "6        shared     pending  awaiting a Lock                     track A1      4"
        );
        assert!(lines[8].ends_with("track B1      5"), "{ps}");
    }

    #[test]
    fn json_escapes_names() {
        let tasks = vec![task(7, "a \"quoted\" name", "awaiting\tsleep", &[1, 2])];
        assert_eq!(
            format_json(&tasks),
            r#"{"tasks":[{"id":7,"name":"a \"quoted\" name","state":"pending","awaiting":"awaiting\tsleep","awaited_by":[1,2]}]}"#
        );
    }
}
