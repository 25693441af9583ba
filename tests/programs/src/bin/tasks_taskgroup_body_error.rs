//! An error returned by the body cancels the children and is part of the
//! error group; a finished group refuses new tasks.
use asyncio::{Error, ErrorKind, TaskGroup, sleep};
use test_programs::{Log, ms};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let l = log.clone();
    let keep = std::rc::Rc::new(std::cell::RefCell::new(None));
    let k = keep.clone();
    let r: asyncio::Result<()> = TaskGroup::run(|tg| async move {
        *k.borrow_mut() = Some(tg.clone());
        tg.create_task(async move {
            let r = sleep(ms(10_000)).await;
            l.push(format!("child: {}", r.as_ref().unwrap_err()));
            r
        })?;
        sleep(ms(10)).await?;
        Err(Error::msg("body failed"))
    })
    .await;
    let e = r.unwrap_err();
    let errors: Vec<String> = e
        .group_errors()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors, ["body failed"]);
    log.assert(&["child: cancelled"]);
    let tg = keep.borrow().clone().unwrap();
    let refused = tg.create_task(async { Ok(()) }).unwrap_err();
    assert!(matches!(refused.kind(), ErrorKind::Runtime(m) if m.contains("finished")));
    Ok(())
}
