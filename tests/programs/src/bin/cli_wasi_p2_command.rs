//! A plain WASI 0.2 command (`fn main`, no asyncio): `aio run` must refuse
//! it with "build it with #[asyncio::main]".
fn main() {
    println!("a WASI 0.2 command");
}
