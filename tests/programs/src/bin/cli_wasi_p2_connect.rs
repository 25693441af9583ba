//! A plain WASI 0.2 command that connects with std's `TcpStream` to the
//! address it is given: through wasmtime-wasi's WASI 0.2 sockets, under the
//! same grants as an asyncio guest's (refused unless `--allow-net` names
//! it, and audited).
use std::io::{Read, Write};

fn main() {
    let addr = std::env::args().nth(1).expect("an address");
    match std::net::TcpStream::connect(&addr) {
        Ok(mut conn) => {
            conn.write_all(b"ping\n").unwrap();
            let mut back = String::new();
            conn.read_to_string(&mut back).unwrap();
            println!("connected: {}", back.trim_end());
        }
        Err(e) => println!("refused: {:?}", e.kind()),
    }
}
