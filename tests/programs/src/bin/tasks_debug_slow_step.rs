//! Debug mode reports a task step slower than the threshold, naming the
//! task. The host test checks stderr.
#[asyncio::main(debug = true)]
async fn main() -> asyncio::Result<()> {
    let t = asyncio::create_named_task("hog", async {
        let start = asyncio::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(150) {
            std::hint::spin_loop();
        }
        Ok(())
    });
    t.await?;
    assert!(asyncio::get_running_loop().get_debug());
    Ok(())
}
