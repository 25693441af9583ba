//! Recurses without end, each frame holding a buffer on the stack: the
//! shadow stack in linear memory runs out (the host must say "stack
//! overflow", not "out of bounds memory access").
#[expect(
    unconditional_recursion,
    reason = "the point: recurse until the stack runs out"
)]
fn deeper(depth: u64) -> u64 {
    let mut frame = [0u8; 4096];
    frame[(depth % 4096) as usize] = depth as u8;
    let frame = std::hint::black_box(frame);
    deeper(depth + 1) + u64::from(frame[0])
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    println!("recursing");
    println!("{}", deeper(std::hint::black_box(0)));
    Ok(())
}
