//! Allocates (and touches) 1 MiB after 1 MiB until the host says no.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0xa5; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}
