//! Panics: the host reports a panic (status 134) and the message reaches stderr.
#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    println!("before the panic");
    let answer = std::hint::black_box(42);
    panic!("deliberate panic: the answer is {answer}");
}
