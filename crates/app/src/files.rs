//! Where uploaded files' bytes live: a content-addressed store behind [`FileStore`], named by
//! the lower-case hex SHA-256 of the content, so the same content is stored once however many
//! records name it. [`LocalFiles`] keeps them in a folder; an S3-compatible bucket fits the same
//! trait (the key is the hash; a put of an existing key is a no-op; a read checks the hash).

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

use crate::AppError;

/// The folder of [`LocalFiles`] when none is configured (and the database is not a SQLite file
/// beside which it would go).
pub const DEFAULT_FOLDER: &str = "holdback-evidence";

/// Why the file store failed. Never the caller's fault, so never shown to it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("file store: {0}")]
    Io(#[from] std::io::Error),
    #[error("file store: {0} is not a SHA-256 in lower-case hex")]
    BadName(String),
    #[error("file store: the content of {0} does not match its hash")]
    Corrupt(String),
    #[error("file store: {0}")]
    Other(String),
}

impl From<FileError> for AppError {
    fn from(e: FileError) -> Self {
        AppError::Internal(e.to_string())
    }
}

/// What a [`FileStore`] call returns: boxed, so that the store can sit behind `dyn`.
pub type FileFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, FileError>> + Send + 'a>>;

/// A content-addressed store of files.
pub trait FileStore: Send + Sync {
    /// Stores `bytes` (once: storing content already there changes nothing) and returns its
    /// SHA-256 in lower-case hex. When it returns, the content is durable under that name;
    /// until then, nothing is under that name.
    fn put(&self, bytes: Arc<[u8]>) -> FileFuture<'_, String>;
    /// The content named `sha256`, checked against it, or `None`.
    fn read<'a>(&'a self, sha256: &'a str) -> FileFuture<'a, Option<Vec<u8>>>;
    /// Whether content named `sha256` is stored.
    fn exists<'a>(&'a self, sha256: &'a str) -> FileFuture<'a, bool>;
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Files in a folder, by hash with two levels of fan-out: `ab/cd/abcd…`. A file is written to
/// `tmp/` first, flushed to disk, then renamed into place (and its folder flushed), so a crash
/// never leaves part of a file under its final name: it is there whole or not at all. Leftovers
/// in `tmp/` are harmless and may be deleted when no upload runs.
/// Clones share one folder (and the test switch below).
#[derive(Debug, Clone)]
pub struct LocalFiles(Arc<Local>);

#[derive(Debug)]
struct Local {
    root: PathBuf,
    fail_before_rename: AtomicBool,
}

impl LocalFiles {
    /// Files under `root` (created when the first file is stored).
    pub fn new(root: impl Into<PathBuf>) -> LocalFiles {
        LocalFiles(Arc::new(Local {
            root: root.into(),
            fail_before_rename: AtomicBool::new(false),
        }))
    }

    pub fn root(&self) -> &Path {
        &self.0.root
    }

    /// Where content named `sha256` is kept.
    pub fn path_of(&self, sha256: &str) -> Result<PathBuf, FileError> {
        if !is_sha256_hex(sha256) {
            return Err(FileError::BadName(sha256.chars().take(80).collect()));
        }
        Ok(self
            .0
            .root
            .join(&sha256[..2])
            .join(&sha256[2..4])
            .join(sha256))
    }

    /// For tests: make the next puts stop after writing and flushing the temporary file and
    /// before renaming it, as a crash there would (the temporary file is left behind).
    #[doc(hidden)]
    pub fn fail_before_rename(&self, fail: bool) {
        self.0.fail_before_rename.store(fail, Ordering::SeqCst);
    }

    fn put_blocking(&self, bytes: &[u8]) -> Result<String, FileError> {
        let sha = sha256_hex(bytes);
        let path = self.path_of(&sha)?;
        if path.is_file() {
            return Ok(sha);
        }
        let dir = path.parent().unwrap_or(&self.0.root).to_path_buf();
        let tmp_dir = self.0.root.join("tmp");
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all(&tmp_dir)?;
        let tmp = tmp_dir.join(format!("{sha}.{}.part", crate::ids::random_hex()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        if self.0.fail_before_rename.load(Ordering::SeqCst) {
            return Err(FileError::Other(
                "failure injected before the rename".into(),
            ));
        }
        std::fs::rename(&tmp, &path)?;
        // the rename is durable once the folder's entry is
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(sha)
    }

    fn read_blocking(&self, sha256: &str) -> Result<Option<Vec<u8>>, FileError> {
        let path = self.path_of(sha256)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if sha256_hex(&bytes) != sha256 {
            return Err(FileError::Corrupt(sha256.to_string()));
        }
        Ok(Some(bytes))
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FileError> + Send + 'static,
) -> Result<T, FileError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| FileError::Other(e.to_string()))?
}

impl FileStore for LocalFiles {
    fn put(&self, bytes: Arc<[u8]>) -> FileFuture<'_, String> {
        let me = self.clone();
        Box::pin(blocking(move || me.put_blocking(&bytes)))
    }

    fn read<'a>(&'a self, sha256: &'a str) -> FileFuture<'a, Option<Vec<u8>>> {
        let (me, sha) = (self.clone(), sha256.to_string());
        Box::pin(blocking(move || me.read_blocking(&sha)))
    }

    fn exists<'a>(&'a self, sha256: &'a str) -> FileFuture<'a, bool> {
        let path = self.path_of(sha256);
        Box::pin(async move { Ok(path?.is_file()) })
    }
}

#[cfg(test)]
#[path = "files_tests.rs"]
pub(crate) mod tests;
