//! loop.set_exception_handler receives the lost-error report instead of
//! stderr; call_exception_handler calls it directly.
use std::cell::RefCell;
use std::rc::Rc;
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let seen = Rc::new(RefCell::new(Vec::<String>::new()));
    let s = seen.clone();
    let lp = asyncio::get_running_loop();
    lp.set_exception_handler(Some(
        move |_: &asyncio::Loop, ctx: &asyncio::ExceptionContext| {
            s.borrow_mut().push(format!(
                "{} / {}",
                ctx.message,
                ctx.error
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            ));
        },
    ));
    drop(asyncio::create_named_task("doomed", async {
        Err::<(), _>(asyncio::Error::msg("lost"))
    }));
    asyncio::sleep(ms(5)).await?;
    lp.call_exception_handler(asyncio::ExceptionContext {
        message: "custom".into(),
        error: None,
        task: None,
    });
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].contains("never retrieved")
            && seen[0].contains("doomed")
            && seen[0].ends_with("lost")
    );
    assert_eq!(seen[1], "custom / ");
    Ok(())
}
