//! Sending a file's bytes (`StreamWriter::sendfile`, `Loop::sendfile`):
//! asyncio's fallback path, reading the file in chunks and writing each
//! as the other end takes them. The file is one the guest opened in a
//! granted directory (`--allow-read`, docs/files.md).
//!
//! The reads are `std::fs` reads, which a WASI guest makes synchronously:
//! each chunk's read holds the loop for as long as the host's read takes
//! (microseconds for a local file in the page cache). There is no
//! zero-copy `sendfile(2)`: the bytes pass through the guest's memory.

use std::io::{Read, Seek, SeekFrom};

use crate::errors::{Error, Result};

/// What one read of the file asks for.
const CHUNK: usize = 64 << 10;

/// A file's bytes from `offset`, `count` of them (to the end if `None`),
/// a chunk at a time. The file is left positioned after the last byte
/// read, as asyncio leaves it after the last byte sent.
pub(crate) struct FileChunks<'a> {
    file: &'a mut std::fs::File,
    left: Option<u64>,
    buf: Vec<u8>,
    sent: u64,
}

impl<'a> FileChunks<'a> {
    pub(crate) fn new(
        file: &'a mut std::fs::File,
        offset: u64,
        count: Option<u64>,
    ) -> Result<FileChunks<'a>> {
        if count != Some(0) {
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| file_error("seek in", e))?;
        }
        Ok(FileChunks {
            file,
            left: count,
            buf: vec![0; CHUNK],
            sent: 0,
        })
    }

    /// The next chunk; `None` at the end (of the file or of `count`).
    pub(crate) fn next_chunk(&mut self) -> Result<Option<&[u8]>> {
        let want = match self.left {
            Some(left) => left.min(CHUNK as u64) as usize,
            None => CHUNK,
        };
        if want == 0 {
            return Ok(None);
        }
        let n = self
            .file
            .read(&mut self.buf[..want])
            .map_err(|e| file_error("read", e))?;
        if n == 0 {
            return Ok(None);
        }
        self.sent += n as u64;
        if let Some(left) = &mut self.left {
            *left -= n as u64;
        }
        Ok(Some(&self.buf[..n]))
    }

    /// Bytes handed out so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }
}

fn file_error(what: &str, e: std::io::Error) -> Error {
    Error::from(std::io::Error::new(
        e.kind(),
        format!("sendfile: cannot {what} the file: {e}"),
    ))
}
