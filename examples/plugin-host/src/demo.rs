//! The demo: three instances of the greeter plugin, each with its own
//! grants and limits, called concurrently; one of them crashes and the
//! others keep serving. (host/tests/all/examples.rs runs this same code.)

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use aio_host::plugin::{CallOptions, InstanceOptions};
use aio_host::{Grants, Limits, Runtime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wasmtime::component::Val;

/// Anything that went wrong, as one line.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

fn s(v: &str) -> Val {
    Val::String(v.into())
}

/// The value of a one-result call, in WAVE-like text.
fn show(vals: &[Val]) -> String {
    match vals {
        [Val::String(s)] => format!("{s:?}"),
        [Val::U64(n)] => n.to_string(),
        [Val::Result(Ok(Some(v)))] => format!("ok({})", show(std::slice::from_ref(v))),
        [Val::Result(Err(Some(v)))] => format!("err({})", show(std::slice::from_ref(v))),
        [Val::List(items)] => format!(
            "[{}]",
            items
                .iter()
                .map(|v| show(std::slice::from_ref(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("{other:?}"),
    }
}

/// Runs the demo with the plugin at `plugin`, writing what happens to `out`.
pub async fn run(plugin: &Path, out: &mut (dyn Write + Send)) -> Result<(), Error> {
    // A line server on loopback for the plugin to reach (only where granted).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let server = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = conn.into_split();
                let mut line = String::new();
                if BufReader::new(r).read_line(&mut line).await.is_ok() {
                    let _ = w
                        .write_all(format!("the host heard: {}\n", line.trim_end()).as_bytes())
                        .await;
                }
            });
        }
    });

    let runtime = Runtime::new()?;
    let plugin = runtime.load_plugin(plugin)?;
    writeln!(out, "loaded {} with exports:", plugin.name())?;
    for export in plugin.exports() {
        writeln!(out, "  {}", export.signature())?;
    }

    // Alice may reach the line server; Bob may reach nothing; Mallory has
    // a small memory.
    let alice = plugin
        .instantiate(
            InstanceOptions::new()
                .grants(Grants::new().allow_net([format!("127.0.0.1:{port}")])?)
                .limits(Limits::new().max_memory(64 << 20)),
        )
        .await?;
    let bob = plugin.instantiate(InstanceOptions::new()).await?;
    let mallory = plugin
        .instantiate(InstanceOptions::new().limits(Limits::new().max_memory(32 << 20)))
        .await?;

    // 30 greetings of 200 ms each, all at once, on three instances: they
    // overlap, so it takes about 200 ms, not 6 s.
    let t0 = Instant::now();
    let mut calls = Vec::new();
    for (who, instance) in [("alice", &alice), ("bob", &bob), ("mallory", &mallory)] {
        for i in 0..10 {
            let instance = instance.clone();
            let name = format!("{who}-{i}");
            calls.push(tokio::spawn(async move {
                instance.call("greet", &[s(&name), Val::U32(200)]).await
            }));
        }
    }
    let mut greeted = 0;
    for call in calls {
        call.await??;
        greeted += 1;
    }
    // One after another they would take 6 s.
    let took = t0.elapsed();
    writeln!(
        out,
        "{greeted} greetings of 200 ms each, all at once, took {} ms: {}",
        took.as_millis(),
        if took < Duration::from_secs(3) {
            "they overlapped"
        } else {
            "they did not overlap"
        }
    )?;
    writeln!(
        out,
        "alice greeted {}",
        show(&alice.call("greeted", &[]).await?)
    )?;

    // A background task started by one call, seen by later calls.
    alice
        .call("start-reminder", &[s("alice"), Val::U32(50)])
        .await?;
    tokio::time::sleep(Duration::from_millis(180)).await;
    let reminders = alice.call("reminders", &[]).await?;
    writeln!(
        out,
        "alice's reminder task ran on: {}",
        if matches!(&reminders[..], [Val::List(l)] if l.len() >= 2) {
            "yes"
        } else {
            "no"
        }
    )?;
    let dump = alice.task_dump().await?;
    writeln!(
        out,
        "alice's tasks: {}",
        dump.lines()
            .find(|l| l.contains("reminder"))
            .unwrap_or("(none)")
            .trim()
    )?;

    // Grants are per instance: the same call, granted and refused.
    let line = [s("127.0.0.1"), Val::U16(port), s("hi")];
    writeln!(
        out,
        "alice fetch-line: {}",
        show(&alice.call("fetch-line", &line).await?)
    )?;
    writeln!(
        out,
        "bob fetch-line: {}",
        show(&bob.call("fetch-line", &line).await?)
    )?;

    // A per-call timeout cancels the guest's task; the instance serves on.
    let slow = bob
        .call_with(
            "greet",
            &[s("slowpoke"), Val::U32(10_000)],
            CallOptions::new().timeout(Duration::from_millis(100)),
        )
        .await;
    match slow {
        Err(e) => writeln!(out, "bob's slow call: {e}")?,
        Ok(v) => writeln!(out, "bob's slow call returned {}", show(&v))?,
    }

    // Mallory crashes: her instance is gone, for every later call too;
    // the others do not notice.
    if let Err(e) = mallory.call("crash", &[]).await {
        writeln!(out, "mallory crash: {e}")?;
    }
    if let Err(e) = mallory.call("greeted", &[]).await {
        writeln!(out, "mallory afterwards: {e}")?;
    }
    for (who, instance) in [("alice", &alice), ("bob", &bob)] {
        let hello = instance.call("greet", &[s(who), Val::U32(0)]).await?;
        writeln!(out, "{who} still serves: {}", show(&hello))?;
    }
    server.abort();
    Ok(())
}
