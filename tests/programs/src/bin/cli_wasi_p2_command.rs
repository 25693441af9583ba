//! A plain WASI 0.2 command (`fn main`, no asyncio): `aio run` runs it
//! under the same grants and limits; its arguments reach it, and its exit
//! status is the host's.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("a WASI 0.2 command {args:?}");
    if let Some(code) = args.first().and_then(|a| a.parse::<i32>().ok()) {
        std::process::exit(code);
    }
}
