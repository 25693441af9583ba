//! Files inside and outside granted directories. argv[1]: a directory
//! granted read-only (holding `hello.txt` and `link`, a symlink to the
//! outside file), argv[2]: a directory granted read-write, argv[3]: a file
//! outside both. Each line is one attempt and how it ended.
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
    let (ro, rw, outside) = (&args[1], &args[2], &args[3]);
    let outside_name = std::path::Path::new(outside)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a file name");
    show(
        "read granted",
        fs::read_to_string(format!("{ro}/hello.txt")),
    );
    let mut names: Vec<String> = fs::read_dir(ro)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    println!("list granted: {names:?}");
    show("write read-only", fs::write(format!("{ro}/new.txt"), "x"));
    show(
        "remove read-only",
        fs::remove_file(format!("{ro}/hello.txt")),
    );
    show("write granted", fs::write(format!("{rw}/out.txt"), "data"));
    show("read back", fs::read_to_string(format!("{rw}/out.txt")));
    show("mkdir granted", fs::create_dir(format!("{rw}/sub")));
    show(
        "rename granted",
        fs::rename(format!("{rw}/out.txt"), format!("{rw}/sub/moved.txt")),
    );
    show(
        "remove granted",
        fs::remove_file(format!("{rw}/sub/moved.txt")),
    );
    show("read outside", fs::read_to_string(outside));
    show(
        "read through ..",
        fs::read_to_string(format!("{ro}/../{outside_name}")),
    );
    show(
        "read through a symlink",
        fs::read_to_string(format!("{ro}/link")),
    );
    show("read /etc/hostname", fs::read_to_string("/etc/hostname"));
    show(
        "write through ..",
        fs::write(format!("{rw}/../escaped.txt"), "x"),
    );
    // A hard link made inside the writable grant does not reach out.
    show(
        "hard link of the outside file",
        fs::hard_link(outside, format!("{rw}/hard")),
    );
    show(
        "hard link through ..",
        fs::hard_link(format!("{rw}/../{outside_name}"), format!("{rw}/hard")),
    );
    Ok(())
}
