//! Spins forever without ever awaiting: only epochs can stop it.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    println!("spinning");
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}
