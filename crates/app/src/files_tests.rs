use super::*;

/// A folder of its own in the temp folder, removed when dropped.
pub(crate) struct TempFolder(pub PathBuf);

impl TempFolder {
    pub(crate) fn new(what: &str) -> TempFolder {
        TempFolder(std::env::temp_dir().join(format!(
            "holdback_{what}_{}_{}",
            std::process::id(),
            crate::ids::random_hex()
        )))
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file under `root` (relative paths, sorted), temporary ones included.
pub(crate) fn files_under(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn content_is_stored_once_by_its_hash_and_read_back_checked() {
    let folder = TempFolder::new("files");
    let files = LocalFiles::new(&folder.0);
    let bytes: Arc<[u8]> = Arc::from(&b"the same content"[..]);
    let sha = files.put(bytes.clone()).await.unwrap();
    assert_eq!(sha, sha256_hex(&bytes));
    assert!(is_sha256_hex(&sha), "{sha}");
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(files.put(bytes.clone()).await.unwrap(), sha);
    assert_eq!(
        files_under(&folder.0),
        vec![format!("{}/{}/{sha}", &sha[..2], &sha[2..4])],
        "one file, fanned out by its hash, no temporary file left"
    );
    assert!(files.exists(&sha).await.unwrap());
    assert_eq!(files.read(&sha).await.unwrap().as_deref(), Some(&bytes[..]));

    let missing = sha256_hex(b"never stored");
    assert!(!files.exists(&missing).await.unwrap());
    assert_eq!(files.read(&missing).await.unwrap(), None);

    // a name that is not a hash never reaches the file system
    for bad in ["../../etc/passwd", "", &sha.to_uppercase(), &sha[..63]] {
        assert!(
            matches!(files.read(bad).await, Err(FileError::BadName(_))),
            "{bad}"
        );
        assert!(files.exists(bad).await.is_err(), "{bad}");
    }

    // content changed on disk is refused, not served
    std::fs::write(files.path_of(&sha).unwrap(), b"tampered").unwrap();
    assert!(matches!(files.read(&sha).await, Err(FileError::Corrupt(s)) if s == sha));
}

#[tokio::test]
async fn a_crash_between_write_and_rename_leaves_nothing_under_the_final_name() {
    let folder = TempFolder::new("files_crash");
    let files = LocalFiles::new(&folder.0);
    let bytes: Arc<[u8]> = Arc::from(vec![7u8; 100_000]);
    let sha = sha256_hex(&bytes);
    files.fail_before_rename(true);
    assert!(files.put(bytes.clone()).await.is_err());
    assert!(!files.path_of(&sha).unwrap().exists());
    assert!(!files.exists(&sha).await.unwrap());
    assert_eq!(files.read(&sha).await.unwrap(), None);
    let left = files_under(&folder.0);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].starts_with(&format!("tmp/{sha}.")) && left[0].ends_with(".part"),
        "only the temporary file: {left:?}"
    );

    // the next put (after the "restart") stores it whole
    files.fail_before_rename(false);
    assert_eq!(files.put(bytes.clone()).await.unwrap(), sha);
    assert_eq!(files.read(&sha).await.unwrap().as_deref(), Some(&bytes[..]));
}
