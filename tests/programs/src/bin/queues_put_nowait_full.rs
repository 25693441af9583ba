//! put_nowait on a full queue gives the item back (QueueFull holds it);
//! get_nowait on an empty one is QueueEmpty.
use asyncio::{ErrorKind, Queue};

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let q = Queue::new(1);
    q.put_nowait(vec![1, 2, 3]).unwrap();
    let back = q.put_nowait(vec![4]).unwrap_err();
    assert!(back.is_full());
    assert_eq!(back.into_inner(), [4]);
    assert_eq!(q.get_nowait()?, [1, 2, 3]);
    assert_eq!(q.get_nowait().unwrap_err().kind(), &ErrorKind::QueueEmpty);
    let e: asyncio::Error = {
        q.put_nowait(vec![]).unwrap();
        q.put_nowait(vec![9]).unwrap_err().into()
    };
    println!("{e}");
    Ok(())
}
