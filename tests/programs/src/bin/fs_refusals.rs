//! Refused file operations in a read-only grant, each of which the host
//! must audit. argv[1]: the directory granted with `--allow-read` (holding
//! `hello.txt` and `link`, a symlink to a file beside it), argv[2]: the
//! name of that file beside it. Each line is one attempt and how it ended.
use std::fs;
use std::io::ErrorKind;

fn show<T: std::fmt::Debug>(what: &str, r: std::io::Result<T>) {
    match r {
        Ok(v) => println!("{what}: ok {v:?}"),
        Err(e) if e.kind() == ErrorKind::NotFound => println!("{what}: not found"),
        Err(e) => println!("{what}: refused ({:?})", e.kind()),
    }
}

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (ro, outside) = (&args[1], &args[2]);
    // Allowed, or failing for another reason: no audit line.
    show("read", fs::read_to_string(format!("{ro}/hello.txt")));
    show(
        "read missing",
        fs::read_to_string(format!("{ro}/missing.txt")),
    );
    // Under no granted directory: fails in the guest, never reaches the host.
    let beside = std::path::Path::new(ro).with_file_name(outside);
    show("read by absolute path", fs::read_to_string(beside));
    // Refused by the host: one audit line each.
    show(
        "read through ..",
        fs::read_to_string(format!("{ro}/../{outside}")),
    );
    show(
        "read through a symlink",
        fs::read_to_string(format!("{ro}/link")),
    );
    show(
        "metadata through ..",
        fs::metadata(format!("{ro}/../{outside}")).map(|m| m.len()),
    );
    show("create", fs::write(format!("{ro}/new.txt"), "x"));
    show(
        "open for writing",
        fs::OpenOptions::new()
            .append(true)
            .open(format!("{ro}/hello.txt"))
            .map(drop),
    );
    show("mkdir", fs::create_dir(format!("{ro}/sub")));
    show("remove", fs::remove_file(format!("{ro}/hello.txt")));
    show(
        "rename",
        fs::rename(format!("{ro}/hello.txt"), format!("{ro}/moved.txt")),
    );
    Ok(())
}
