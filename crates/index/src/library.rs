//! The library folder: layout, lock and opening.
//!
//! # On-disk layout
//!
//! ```text
//! LIBRARY/
//!   library.lock                          empty; exclusively locked while a process has it open
//!   catalogue.sqlite (+ -wal, -shm)       videos, windows, cues (see `catalogue`)
//!   text/                                 tantivy index: subtitles, names, folders, titles
//!   thumbnails/<hh>/<hash>.jpg            one poster per video (written by the engine)
//!   fingerprints/<hh>/<hash>.f16          per-second 16×16 luma of the frame at k + 0.5 s,
//!                                         model-independent (finding shared footage)
//!   families/<family>/
//!     features/<hh>/<hash>.f16            per-second backbone features (S3D for `videoclip`,
//!                                         per-frame CLIP for `clip`), see `features`
//!     models/<version>/
//!       windows.usearch                   HNSW index of window embeddings (key = windows.id)
//!       windows/<hh>/<hash>.f16           the video's window vectors (rows = its windows)
//!       tokens/<hh>/<hash>.f16            per-second token states of that model, per video
//!   families/sentences/models/<encoder>/  subtitle sentence embeddings (MiniLM)
//!       cues.usearch                      HNSW index of cue vectors (key = cues.id)
//!       cues/<hh>/<hash>.f16              the video's cue vectors (rows = its cues)
//! ```
//!
//! `<hash>` is a video's content hash and `<hh>` its first two characters (keeps folders small).
//! A *family* (`videoclip`, `clip`, …) fixes how frames are sampled and which backbone turns
//! them into per-second features, so features are shared by every model version of the family:
//! fine-tuning or swapping the towers only rebuilds `models/<version>/` from the cached
//! features, never decodes again. Several families live side by side (issue 7).
//!
//! # Invariants
//! - One process at a time: [`Library`] holds an exclusive lock on `library.lock` for its whole
//!   life (`File::try_lock`, flock on Unix, LockFileEx on Windows; released by the OS if the
//!   process dies). A second opener gets [`Error::LibraryInUse`] at once.
//! - The catalogue is the source of truth. Feature, token and index files are derived and
//!   replaced atomically; an index can always be rebuilt from the catalogue and the features.
//! - Files whose names start with `.tmp-` are unfinished writes; they are deleted on open.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::atomic::{remove_stale_temps, TEMP_PREFIX};
use crate::catalogue::Catalogue;
use crate::error::{Error, Result};

/// Name of the lock file at the root of a library.
pub const LOCK_FILE: &str = "library.lock";
/// Name of the catalogue database at the root of a library.
pub const CATALOGUE_FILE: &str = "catalogue.sqlite";

/// A model family and one version of its towers, e.g. `videoclip` / `base`.
///
/// Both parts become folder names, so they are restricted to `[a-z0-9._-]`, must not start
/// with `.`, and are at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelVersion {
    family: String,
    version: String,
}

impl ModelVersion {
    /// Validates and builds a model version.
    pub fn new(family: &str, version: &str) -> Result<Self> {
        check_component("model family", family)?;
        check_component("model version", version)?;
        Ok(Self {
            family: family.to_string(),
            version: version.to_string(),
        })
    }

    /// The family (`videoclip`, `clip`).
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The version inside the family (`base`, `finetune-2026-11-26`, …).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `family/version`, as stored in the catalogue.
    pub fn key(&self) -> String {
        format!("{}/{}", self.family, self.version)
    }
}

fn check_component(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what} {s:?} must be 1-64 characters of a-z 0-9 . _ - and not start with '.'"
        )))
    }
}

fn check_hash(hash: &str) -> Result<()> {
    if hash.len() >= 2 && hash.len() <= 128 && hash.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "content hash {hash:?} must be 2-128 ASCII letters or digits"
        )))
    }
}

/// An open library. Dropping it releases the lock.
#[derive(Debug)]
pub struct Library {
    root: PathBuf,
    catalogue: Catalogue,
    // Last field: dropped (unlocked) only after the catalogue is closed.
    _lock: LockGuard,
}

/// Releases the library lock explicitly on drop. Closing our descriptor is not enough: a
/// child process forked by another thread between `fork` and `exec` shares the open file
/// description, and a flock lasts until every descriptor of it is closed.
#[derive(Debug)]
struct LockGuard(File);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Library {
    /// Creates the library folder (and parents) if needed and opens it. Opening an existing
    /// library this way is fine: creation is idempotent.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let root = dir.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        Self::open_inner(root, true)
    }

    /// Opens an existing library; [`Error::NotALibrary`] if `dir` has no catalogue.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let root = dir.as_ref().to_path_buf();
        if !root.join(CATALOGUE_FILE).is_file() {
            return Err(Error::NotALibrary { path: root });
        }
        Self::open_inner(root, false)
    }

    fn open_inner(root: PathBuf, create: bool) -> Result<Self> {
        let lock_path = root.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::LibraryInUse { path: root });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        for sub in ["text", "thumbnails", "families"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        // A writable folder is required even for an existing library: SQLite's WAL needs it.
        probe_writable(&root)?;
        clean_temps(&root)?;
        let catalogue = Catalogue::open(&root.join(CATALOGUE_FILE), create)?;
        Ok(Self {
            root,
            catalogue,
            _lock: LockGuard(lock),
        })
    }

    /// The library folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The catalogue, mutably (transactions need `&mut`).
    pub fn catalogue_mut(&mut self) -> &mut Catalogue {
        &mut self.catalogue
    }

    /// Folder of the tantivy text index.
    pub fn text_dir(&self) -> PathBuf {
        self.root.join("text")
    }

    /// Where a video's thumbnail goes (the folder is created).
    pub fn thumbnail_path(&self, hash: &str) -> Result<PathBuf> {
        check_hash(hash)?;
        self.sharded(self.root.join("thumbnails"), hash, "jpg")
    }

    /// Where a video's per-second picture fingerprints go (the folder is created); they depend
    /// on the content only, not on a model.
    pub fn fingerprint_path(&self, hash: &str) -> Result<PathBuf> {
        check_hash(hash)?;
        self.sharded(self.root.join("fingerprints"), hash, "f16")
    }

    /// Where a video's per-second features for `family` go (the folder is created).
    pub fn features_path(&self, family: &str, hash: &str) -> Result<PathBuf> {
        check_component("model family", family)?;
        check_hash(hash)?;
        self.sharded(
            self.root.join("families").join(family).join("features"),
            hash,
            "f16",
        )
    }

    /// Folder of one model version's derived files (created).
    pub fn model_dir(&self, model: &ModelVersion) -> Result<PathBuf> {
        let p = self
            .root
            .join("families")
            .join(model.family())
            .join("models")
            .join(model.version());
        fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        Ok(p)
    }

    /// The HNSW window index file of a model version.
    pub fn vector_index_path(&self, model: &ModelVersion) -> Result<PathBuf> {
        Ok(self.model_dir(model)?.join("windows.usearch"))
    }

    /// Where a video's per-second token states for a model version go (folder created).
    pub fn tokens_path(&self, model: &ModelVersion, hash: &str) -> Result<PathBuf> {
        check_hash(hash)?;
        let dir = self.model_dir(model)?.join("tokens");
        self.sharded(dir, hash, "f16")
    }

    /// Where a video's window vectors for a model version go (folder created): one row per
    /// window, in the order of the catalogue's windows. The vector index is rebuilt from these.
    pub fn window_vectors_path(&self, model: &ModelVersion, hash: &str) -> Result<PathBuf> {
        check_hash(hash)?;
        let dir = self.model_dir(model)?.join("windows");
        self.sharded(dir, hash, "f16")
    }

    /// The subtitle sentence index of a sentence encoder (`model` = `sentences/<encoder id>`).
    pub fn cue_index_path(&self, model: &ModelVersion) -> Result<PathBuf> {
        Ok(self.model_dir(model)?.join("cues.usearch"))
    }

    /// Where a video's subtitle sentence vectors go (folder created): one row per cue, in the
    /// catalogue's cue order.
    pub fn cue_vectors_path(&self, model: &ModelVersion, hash: &str) -> Result<PathBuf> {
        check_hash(hash)?;
        let dir = self.model_dir(model)?.join("cues");
        self.sharded(dir, hash, "f16")
    }

    /// The library-relative form of a path inside it (what the catalogue stores).
    pub fn relative(&self, path: &Path) -> Option<String> {
        path.strip_prefix(&self.root)
            .ok()
            .and_then(|p| p.to_str())
            .map(str::to_owned)
    }

    fn sharded(&self, base: PathBuf, hash: &str, ext: &str) -> Result<PathBuf> {
        let dir = base.join(&hash[..2]);
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(dir.join(format!("{hash}.{ext}")))
    }
}

fn probe_writable(root: &Path) -> Result<()> {
    let probe = root.join(format!("{TEMP_PREFIX}probe-{}", std::process::id()));
    File::create(&probe).map_err(|e| Error::io(root, e))?;
    fs::remove_file(&probe).map_err(|e| Error::io(&probe, e))
}

/// Removes unfinished writes everywhere in the library (we hold the lock, so none is live).
fn clean_temps(dir: &Path) -> Result<()> {
    remove_stale_temps(dir)?;
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if ft.is_dir() {
            clean_temps(&entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_open_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        {
            let lib = Library::create(&root).unwrap();
            assert!(root.join(CATALOGUE_FILE).is_file());
            assert!(root.join("text").is_dir());
            let m = ModelVersion::new("videoclip", "base").unwrap();
            let f = lib.features_path("videoclip", "abcdef").unwrap();
            assert_eq!(f, root.join("families/videoclip/features/ab/abcdef.f16"));
            let t = lib.tokens_path(&m, "abcdef").unwrap();
            assert_eq!(
                t,
                root.join("families/videoclip/models/base/tokens/ab/abcdef.f16")
            );
            assert_eq!(
                lib.vector_index_path(&m).unwrap(),
                root.join("families/videoclip/models/base/windows.usearch")
            );
        }
        let lib = Library::open(&root).unwrap();
        assert_eq!(lib.root(), root);
    }

    #[test]
    fn open_of_a_plain_folder_is_not_a_library() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Library::open(dir.path()),
            Err(Error::NotALibrary { .. })
        ));
    }

    #[test]
    fn second_open_is_library_in_use_until_first_closes() {
        // Two opens in one process use two open file descriptions, and flock-style locks
        // (what std's File::try_lock uses on Unix) conflict between them.
        let dir = tempfile::tempdir().unwrap();
        let first = Library::create(dir.path()).unwrap();
        match Library::open(dir.path()) {
            Err(Error::LibraryInUse { path }) => assert_eq!(path, dir.path()),
            other => panic!("expected LibraryInUse, got {other:?}"),
        }
        assert!(matches!(
            Library::create(dir.path()),
            Err(Error::LibraryInUse { .. })
        ));
        drop(first);
        Library::open(dir.path()).unwrap();
    }

    /// Run by `second_process_gets_library_in_use` in a child process; passes trivially
    /// when run on its own.
    #[test]
    fn child_open_attempt() {
        let Some(dir) = std::env::var_os("VCLIP_INDEX_LOCK_CHILD") else {
            return;
        };
        match Library::open(&dir) {
            Err(Error::LibraryInUse { path }) => assert_eq!(path, Path::new(&dir)),
            other => panic!("expected LibraryInUse, got {other:?}"),
        }
    }

    #[test]
    fn second_process_gets_library_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _held = Library::create(dir.path()).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "library::tests::child_open_attempt",
                "--nocapture",
            ])
            .env("VCLIP_INDEX_LOCK_CHILD", dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("1 passed"), "{text}");
    }

    #[test]
    fn read_only_folder_is_a_clear_error() {
        // As root, permission bits do not stop writes, so use a path no one can create
        // files in: /sys is a read-only sysfs in containers and refuses mkdir even to root.
        #[cfg(unix)]
        let is_root = unsafe { libc::geteuid() } == 0;
        #[cfg(not(unix))]
        let is_root = false;
        if is_root {
            let p = Path::new("/sys/vclip-read-only-library");
            match Library::create(p) {
                Err(Error::ReadOnly { path, .. }) => assert_eq!(path, p),
                other => panic!("expected ReadOnly, got {other:?}"),
            }
            return;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("lib");
            drop(Library::create(&root).unwrap());
            fs::set_permissions(&root, fs::Permissions::from_mode(0o555)).unwrap();
            let r = Library::open(&root);
            fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
            assert!(matches!(r, Err(Error::ReadOnly { .. })), "{r:?}");
        }
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(ModelVersion::new("../x", "base").is_err());
        assert!(ModelVersion::new("clip", "").is_err());
        assert!(ModelVersion::new("clip", ".hidden").is_err());
        let dir = tempfile::tempdir().unwrap();
        let lib = Library::create(dir.path()).unwrap();
        assert!(lib.features_path("clip", "../../etc").is_err());
        assert!(lib.thumbnail_path("a").is_err());
    }

    #[test]
    fn stale_temp_files_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let lib = Library::create(dir.path()).unwrap();
        let f = lib.features_path("clip", "abcd").unwrap();
        let stale = f.with_file_name(".tmp-abcd.f16-1-0");
        fs::write(&stale, b"half").unwrap();
        drop(lib);
        let _lib = Library::open(dir.path()).unwrap();
        assert!(!stale.exists());
    }
}
