//! gather! runs futures of different types and gives a tuple; an empty
//! gather gives an empty list at once.
use test_programs::ms;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let (n, s, v) = asyncio::gather!(
        async {
            asyncio::sleep(ms(30)).await?;
            Ok(1u8)
        },
        async { Ok("two") },
        async {
            asyncio::sleep(ms(10)).await?;
            Ok(vec![3, 3, 3])
        },
    )
    .await?;
    assert_eq!((n, s, v), (1, "two", vec![3, 3, 3]));
    let none: Vec<u32> =
        asyncio::gather(Vec::<std::future::Ready<asyncio::Result<u32>>>::new()).await?;
    assert!(none.is_empty());
    let e = asyncio::gather!(async { Ok(1) }, async {
        Err::<(), _>(asyncio::Error::msg("bad"))
    })
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "bad");
    Ok(())
}
