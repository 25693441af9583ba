//! Reads far outside its linear memory: a trap that is not a panic.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    println!("about to read out of bounds");
    let address = std::hint::black_box(0x8000_0000usize) as *const u8;
    // Safety: none; this deliberately traps (2 GiB is beyond any
    // linear memory a test guest has).
    let byte = unsafe { address.read_volatile() };
    println!("read {byte}");
    Ok(())
}
