//! Reading regular files, and only those.
//!
//! Opening a FIFO for reading waits for a writer, forever in a tree nobody writes to, and a
//! character device may never reach its end. Every reader of the desired side and of the
//! command line goes through here: the file type is checked with `metadata` (symlinks
//! followed) before anything is opened, the open itself is non-blocking so that a FIFO swapped
//! in after the check cannot hold it, and the type is checked again on the open handle, which
//! is what gets read. A symlink loop is reported as the loop (`a -> b -> a`) rather than as
//! "too many levels of symbolic links".

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// A path that is neither a regular file nor a directory. It travels inside an
/// [`io::Error`] (kind `InvalidInput`) so that readers that report I/O errors as
/// `"{path}: {error}"` read "x.yaml: is a FIFO, not a regular file".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is {what}, not a regular file")]
pub struct NotRegular {
    /// What it is instead: "a FIFO", "a socket", "a character device", "a block device".
    pub what: &'static str,
}

impl NotRegular {
    /// The `NotRegular` an I/O error carries, if it carries one.
    pub fn of(e: &io::Error) -> Option<NotRegular> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<NotRegular>()).copied()
    }
}

impl From<NotRegular> for io::Error {
    fn from(e: NotRegular) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// What a file type is when it is none of a regular file, a directory or a symlink.
pub fn special(file_type: FileType) -> Option<&'static str> {
    if file_type.is_file() || file_type.is_dir() || file_type.is_symlink() {
        None
    } else if file_type.is_fifo() {
        Some("a FIFO")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else {
        Some("a special file")
    }
}

/// The metadata of `path`, symlinks followed; a FIFO, socket or device is an error
/// ([`NotRegular`]), a directory is not.
pub fn metadata(path: &Path) -> io::Result<Metadata> {
    let meta = std::fs::metadata(path).map_err(|e| explain_loop(path, e))?;
    match special(meta.file_type()) {
        Some(what) => Err(NotRegular { what }.into()),
        None => Ok(meta),
    }
}

/// Opens a regular file for reading (symlinks followed), refusing anything else without
/// blocking on it.
pub fn open(path: &Path) -> io::Result<File> {
    open_with(path, false)
}

/// [`open`], and with `no_follow` a symlink in the last component is refused too: for paths
/// already resolved (canonical), where a symlink can only be one swapped in since.
pub(crate) fn open_with(path: &Path, no_follow: bool) -> io::Result<File> {
    if metadata(path)?.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    let flags = libc::O_NONBLOCK | if no_follow { libc::O_NOFOLLOW } else { 0 };
    let file = OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(|e| explain_loop(path, e))?;
    let meta = file.metadata()?;
    if let Some(what) = special(meta.file_type()) {
        return Err(NotRegular { what }.into());
    }
    if meta.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    // O_NONBLOCK means nothing for a regular file's reads; it stays set.
    Ok(file)
}

/// The bytes of a regular file (see [`open`]).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(file.metadata()?.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of a regular file (see [`open`]); not UTF-8 is an `InvalidData` error, as
/// `std::fs::read_to_string` gives.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced, and a
/// rename: a reader (or a crash) sees the old file or the new one, never half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new().prefix(&format!(".{name}.")).tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(dir).and_then(|d| d.sync_all())
}

/// `e` as met on `path`; when it is "too many levels of symbolic links" and a loop of
/// symlinks on `path` explains it, the error names the loop instead: `a symlink loop (a -> b ->
/// a)`, starting at the link's name and then each link's target as written.
pub fn explain_loop(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() != Some(libc::ELOOP) {
        return e;
    }
    match symlink_loop(path) {
        Some(chain) => io::Error::new(e.kind(), format!("a symlink loop ({chain})")),
        None => e,
    }
}

/// The first loop of symlinks met resolving `path`, component by component, as `a -> b -> a`.
fn symlink_loop(path: &Path) -> Option<String> {
    let mut prefix = PathBuf::new();
    for component in path.components() {
        prefix.push(component);
        if let Some(chain) = loop_at(&prefix) {
            return Some(chain);
        }
    }
    None
}

/// Follows the symlink at `link` from link to link (at most as many hops as the kernel allows);
/// the chain when one comes back to a link already met.
fn loop_at(link: &Path) -> Option<String> {
    // Links are compared by their lexical absolute-ish path; good enough to name a loop.
    let mut current = lexical(link);
    let mut seen = vec![current.clone()];
    let mut chain = vec![link.file_name()?.to_string_lossy().into_owned()];
    for _ in 0..40 {
        if !std::fs::symlink_metadata(&current).ok()?.file_type().is_symlink() {
            return None;
        }
        let target = std::fs::read_link(&current).ok()?;
        chain.push(target.display().to_string());
        let next = lexical(&current.parent().unwrap_or(Path::new("")).join(&target));
        if seen.contains(&next) {
            return Some(chain.join(" -> "));
        }
        seen.push(next.clone());
        current = next;
    }
    None
}

/// `path` with `.` dropped and `..` taking away the component before it.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_are_refused_without_blocking_and_files_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        std::fs::write(dir.path().join("f"), "text").unwrap();
        std::os::unix::fs::symlink("pipe", dir.path().join("link")).unwrap();
        for p in [&fifo, &dir.path().join("link")] {
            let e = read(p).unwrap_err();
            assert_eq!(e.to_string(), "is a FIFO, not a regular file");
            assert_eq!(NotRegular::of(&e), Some(NotRegular { what: "a FIFO" }));
        }
        assert_eq!(read_to_string(&dir.path().join("f")).unwrap(), "text");
        assert_eq!(read(dir.path()).unwrap_err().raw_os_error(), Some(libc::EISDIR));
        assert!(metadata(dir.path()).unwrap().is_dir());
        let e = read(Path::new("/dev/null")).unwrap_err();
        assert_eq!(e.to_string(), "is a character device, not a regular file");
    }

    #[test]
    fn loops_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("b", dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        std::os::unix::fs::symlink("self", dir.path().join("self")).unwrap();
        let e = read(&dir.path().join("a")).unwrap_err();
        assert_eq!(e.to_string(), "a symlink loop (a -> b -> a)");
        let e = metadata(&dir.path().join("self/x")).unwrap_err();
        assert_eq!(e.to_string(), "a symlink loop (self -> self)");
    }
}
