//! Every file the CLI reads or writes goes through this module.
//!
//! Reading ([`read_bounded`], [`open_bounded`]): a file is read through
//! `Read::take(limit + 1)`, so reading stops at its limit while reading,
//! never after: an endless stream (`/dev/zero`, a FIFO whose writer never
//! stops) ends with the limit's error after at most `limit + 1` bytes, and
//! a file over the limit is never read whole first. Directories are
//! refused by name.
//!
//! Writing ([`Output`], [`write_atomically`]): an output is written to a
//! temporary file beside its target (same directory, so the rename cannot
//! cross file systems) and renamed into place only when the whole output
//! was written and flushed to disk; on failure the temporary file is removed
//! and an existing target is left untouched. [`check_outputs`] runs before
//! any work: an output that is one of the inputs (same path after
//! canonicalisation, or the same file through another link) is refused,
//! and an output whose directory is missing or not writable is reported
//! before the long work starts.

use super::{show, CliError, IoCause};
use privacy_inspector::limits::{Limit, LimitExceeded};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

fn read_err(path: &Path, e: io::Error) -> CliError {
    CliError::Read {
        path: show(path),
        source: IoCause(e),
    }
}

/// Open `path` for reading; a directory is an error naming it.
fn open(path: &Path) -> Result<File, CliError> {
    let f = File::open(path).map_err(|e| read_err(path, e))?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(read_err(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "it is a directory"),
        ));
    }
    Ok(f)
}

/// The bytes of `path`, at most `max` of them: reading stops at `max + 1`
/// bytes and fails with `limit` (the value shown is the file's size when
/// the file system knows it, else "at least max + 1").
pub fn read_bounded(path: &Path, max: u64, limit: Limit) -> Result<Vec<u8>, CliError> {
    let f = open(path)?;
    let known = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    if let Some(len) = known {
        // a regular file over the limit is refused before reading it
        if len > max {
            return Err(CliError::TooLarge {
                path: show(path),
                source: LimitExceeded::new(limit, len, max),
            });
        }
    }
    let cap = known.unwrap_or(0).min(max).min(1 << 30) as usize;
    let mut bytes = Vec::with_capacity(cap);
    f.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| read_err(path, e))?;
    if bytes.len() as u64 > max {
        return Err(CliError::TooLarge {
            path: show(path),
            source: LimitExceeded::new(limit, bytes.len() as u64, max),
        });
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text (settings files).
pub fn read_text_bounded(path: &Path, max: u64, limit: Limit) -> Result<String, CliError> {
    let bytes = read_bounded(path, max, limit)?;
    String::from_utf8(bytes).map_err(|_| {
        read_err(
            path,
            io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"),
        )
    })
}

/// A settings file (`--limits`, `--guidance-options`): at most
/// [`privacy_inspector::limits::SETTINGS_FILE_BYTES`].
pub fn read_settings_file(path: &Path) -> Result<String, CliError> {
    read_text_bounded(
        path,
        privacy_inspector::limits::SETTINGS_FILE_BYTES,
        Limit::SettingsBytes,
    )
}

/// A stream of `path` ('-' for stdin) that ends after `max + 1` bytes (the
/// reader behind it counts them and fails at `max`).
pub fn open_bounded(path: &Path, max: u64) -> Result<Box<dyn Read>, CliError> {
    let limit = max.saturating_add(1);
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin().take(limit)));
    }
    Ok(Box::new(open(path)?.take(limit)))
}

fn write_err(path: &Path, e: io::Error) -> CliError {
    CliError::Write {
        path: show(path),
        source: IoCause(e),
    }
}

/// The file's identity: canonical path, and (unix) device and inode.
#[derive(PartialEq)]
struct Identity {
    path: Option<PathBuf>,
    #[cfg(unix)]
    inode: Option<(u64, u64)>,
}

fn identity(p: &Path) -> Identity {
    Identity {
        path: std::fs::canonicalize(p).ok(),
        #[cfg(unix)]
        inode: {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
        },
    }
}

/// The same file: equal canonical paths, or (unix) the same device and
/// inode (a hard link).
fn same_file(a: &Path, b: &Path) -> bool {
    let (x, y) = (identity(a), identity(b));
    if x.path.is_some() && x.path == y.path {
        return true;
    }
    #[cfg(unix)]
    if x.inode.is_some() && x.inode == y.inode {
        return true;
    }
    false
}

/// The directory an output goes into.
fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Before any work: refuse an output that is one of the inputs (or another
/// output), and an output whose directory is missing or cannot be written
/// (probed by creating and removing a temporary file in it). `inputs` and
/// `outputs` are (flag, path) pairs; stdin ('-') is no file.
pub fn check_outputs(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<(), CliError> {
    for (i, (oflag, out)) in outputs.iter().enumerate() {
        for (iflag, input) in inputs {
            if input.as_os_str() != "-" && same_file(out, input) {
                return Err(CliError::Usage(format!(
                    "{oflag} {} is the input {iflag}: writing it would destroy the input; choose another output file",
                    show(out)
                )));
            }
        }
        for (oflag2, out2) in &outputs[..i] {
            if same_file(out, out2) || out == out2 {
                return Err(CliError::Usage(format!(
                    "{oflag} and {oflag2} name the same file {}: choose two files",
                    show(out)
                )));
            }
        }
        if std::fs::metadata(out).is_ok_and(|m| m.is_dir()) {
            return Err(write_err(
                out,
                io::Error::new(io::ErrorKind::InvalidInput, "it is a directory"),
            ));
        }
        let dir = parent_dir(out);
        if !dir.is_dir() {
            return Err(write_err(
                out,
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("the folder {} does not exist", show(&dir)),
                ),
            ));
        }
        // the probe is the temporary file the output itself will use
        let probe = Output::create(out)?;
        probe.discard();
    }
    Ok(())
}

/// An output being written: a temporary file beside the target, renamed
/// into place by [`Output::commit`]; dropped without commit, it is removed
/// and the target is untouched.
pub struct Output {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<io::BufWriter<File>>,
}

impl Output {
    /// Create the temporary file beside `target` (`.NAME.PID.N.tmp`,
    /// created exclusively: never an existing file).
    pub fn create(target: &Path) -> Result<Output, CliError> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let dir = parent_dir(target);
        let mut last = None;
        for _ in 0..16 {
            let tmp = dir.join(format!(
                ".{name}.{}.{}.tmp",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => {
                    return Ok(Output {
                        target: target.to_path_buf(),
                        tmp,
                        file: Some(io::BufWriter::with_capacity(1 << 16, f)),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(write_err(target, e)),
            }
        }
        Err(write_err(
            target,
            last.unwrap_or_else(|| io::Error::other("no temporary file name free")),
        ))
    }

    /// Write all of `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        let r = match self.file.as_mut() {
            Some(f) => f.write_all(bytes),
            None => Err(io::Error::other("the output is closed")),
        };
        r.map_err(|e| write_err(&self.target, e))
    }

    /// Flush, sync and rename into place.
    pub fn commit(mut self) -> Result<(), CliError> {
        let target = self.target.clone();
        let Some(w) = self.file.take() else {
            return Err(write_err(&target, io::Error::other("the output is closed")));
        };
        let f = w
            .into_inner()
            .map_err(|e| write_err(&target, io::Error::new(e.error().kind(), e.to_string())))?;
        f.sync_all().map_err(|e| write_err(&target, e))?;
        drop(f);
        std::fs::rename(&self.tmp, &target).map_err(|e| write_err(&target, e))
        // Drop removes nothing once renamed (the temporary name is gone)
    }

    /// Remove the temporary file; the target is untouched.
    pub fn discard(self) {
        drop(self)
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.file.take();
        let _ = std::fs::remove_file(&self.tmp);
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("the output is closed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Write `bytes` to `path` through a temporary file renamed into place.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut out = Output::create(path)?;
    out.write_all(bytes)?;
    out.commit()
}
