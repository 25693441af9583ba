//! gather_all (return_exceptions=True) waits for everything and gives each
//! result, errors included, in argument order.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let results = asyncio::gather_all((0..5u64).map(|i| async move {
        asyncio::sleep(ms(50 - i * 10)).await?;
        if i % 2 == 1 {
            Err(asyncio::Error::msg(format!("odd {i}")))
        } else {
            Ok(i)
        }
    }))
    .await?;
    let shown: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(v) => v.to_string(),
            Err(e) => e.to_string(),
        })
        .collect();
    assert_eq!(shown, ["0", "odd 1", "2", "odd 3", "4"]);
    Ok(())
}
