//! create_eager_task runs one task eagerly while the loop stays lazy.
use test_programs::Log;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let log = Log::new();
    let (a, b) = (log.clone(), log.clone());
    let lazy = asyncio::create_task(async move {
        a.push("lazy ran");
        Ok(())
    });
    let eager = asyncio::create_eager_task(async move {
        b.push("eager ran");
        Ok(())
    });
    log.push("both created");
    lazy.await?;
    eager.await?;
    log.assert(&["eager ran", "both created", "lazy ran"]);
    Ok(())
}
