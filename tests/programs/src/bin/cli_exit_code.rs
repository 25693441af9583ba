//! Exits with the status given as its first argument, after printing to
//! stdout without a newline (asyncio::exit must flush it).
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let code: u8 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    print!("exiting with {code}");
    asyncio::exit(code)
}
