//! Runner::run refuses to start inside a running loop (asyncio raises
//! RuntimeError), and the error names the problem.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let e = asyncio::Runner::new()
        .run(async { Ok(()) })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("running event loop"), "{e}");
    Ok(())
}
