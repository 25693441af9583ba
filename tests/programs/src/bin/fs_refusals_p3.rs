//! Refused file operations through WASI 0.3's `wasi:filesystem` (Rust's
//! `std::fs` uses WASI 0.2), each of which the host must audit. argv[1]:
//! the directory granted with `--allow-read` (holding `hello.txt` and
//! `link`, a symlink to a file beside it), argv[2]: the name of that file.
//! Each line is one attempt and the error code it got.
use asyncio::bindings::wasi::filesystem::preopens;
use asyncio::bindings::wasi::filesystem::types::{
    Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};

fn show<T>(what: &str, r: Result<T, ErrorCode>) {
    match r {
        Ok(_) => println!("{what}: ok"),
        Err(e) => println!("{what}: {e:?}"),
    }
}

async fn open(
    dir: &Descriptor,
    path: &str,
    open: OpenFlags,
    flags: DescriptorFlags,
) -> Result<Descriptor, ErrorCode> {
    dir.open_at(PathFlags::SYMLINK_FOLLOW, path.to_owned(), open, flags)
        .await
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (ro, outside) = (&args[1], &args[2]);
    let (dir, _) = preopens::get_directories()
        .into_iter()
        .find(|(_, name)| name == ro)
        .expect("the granted directory is a preopen");
    let read = DescriptorFlags::READ;
    // Allowed, or failing for another reason: no audit line.
    show(
        "open",
        open(&dir, "hello.txt", OpenFlags::empty(), read).await,
    );
    show(
        "open missing",
        open(&dir, "missing.txt", OpenFlags::empty(), read).await,
    );
    // Refused by the host: one audit line each.
    let up = format!("../{outside}");
    show(
        "open through ..",
        open(&dir, &up, OpenFlags::empty(), read).await,
    );
    show(
        "open through a symlink",
        open(&dir, "link", OpenFlags::empty(), read).await,
    );
    show(
        "stat through ..",
        dir.stat_at(PathFlags::SYMLINK_FOLLOW, up.clone()).await,
    );
    show(
        "create",
        open(&dir, "new.txt", OpenFlags::CREATE, DescriptorFlags::WRITE).await,
    );
    show("mkdir", dir.create_directory_at("sub".to_owned()).await);
    show("remove", dir.unlink_file_at("hello.txt".to_owned()).await);
    show(
        "rename",
        dir.rename_at("hello.txt".to_owned(), &dir, "moved.txt".to_owned())
            .await,
    );
    Ok(())
}
