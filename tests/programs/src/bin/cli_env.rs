//! Prints the environment it was given, `NAME=value` per line, sorted.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    for (name, value) in vars {
        println!("{name}={value}");
    }
    Ok(())
}
