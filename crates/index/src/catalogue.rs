//! The catalogue: videos, their windows and subtitle cues, in SQLite.
//!
//! # Durability
//! WAL journal with `synchronous=NORMAL`: every committed transaction survives a crash or a
//! kill -9 of the process (the WAL is in the OS's hands on commit), and the database is never
//! corrupted. Only a power cut may roll back the last few commits, which is harmless here: an
//! import keyed by content hash simply redoes them. `FULL` would fsync on every commit and
//! slow a large import for no gain in consistency.
//!
//! # Invariants
//! - `videos.hash` is unique: a file imported twice (even under another path) is one video.
//! - `windows.id` is the HNSW key. The table is `AUTOINCREMENT`, so a key is never reused after
//!   a delete: a stale entry in a vector index can never point at a different window. The same
//!   holds for `cues.id` (the key of the subtitle sentence index) since schema version 2.
//! - Removing a video removes its windows and cues in the same transaction (foreign keys with
//!   `ON DELETE CASCADE`), and returns the window keys so the caller can drop them from HNSW.
//! - The schema version is `PRAGMA user_version`; migrations run in one transaction each, in
//!   order, and a database newer than this build is refused rather than misread.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use crate::error::{Error, Result};

/// Schema migrations; index `i` moves the database from version `i` to `i + 1`.
/// 1 → 2: `cues.id` becomes `AUTOINCREMENT` (it keys a vector index).
/// 2 → 3: `videos.missing_since`: when a rescan found the file gone (kept, not searched).
/// 3 → 4: `cues.origin` (`subtitle` or `screen`: text read off the picture) and
/// `videos.screen_text` (the language packs its screen text was read with; NULL: not read).
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE videos (
    id             INTEGER PRIMARY KEY,
    hash           TEXT    NOT NULL UNIQUE,
    path           TEXT    NOT NULL,
    folder         TEXT    NOT NULL,
    title          TEXT,
    size           INTEGER NOT NULL,
    mtime          INTEGER NOT NULL,
    duration_s     REAL,
    status         TEXT    NOT NULL CHECK (status IN ('queued','importing','ready','failed')),
    error          TEXT,
    model_version  TEXT,
    features_path  TEXT,
    thumbnail_path TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX videos_path ON videos(path);
CREATE INDEX videos_status ON videos(status);
CREATE TABLE windows (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id      INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    model_version TEXT    NOT NULL,
    start_s       REAL    NOT NULL,
    end_s         REAL    NOT NULL
);
CREATE INDEX windows_video ON windows(video_id, model_version);
CREATE TABLE cues (
    id       INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    start_s  REAL    NOT NULL,
    end_s    REAL    NOT NULL,
    text     TEXT    NOT NULL
);
CREATE INDEX cues_video ON cues(video_id);
"#,
    r#"
CREATE TABLE cues_v2 (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    start_s  REAL    NOT NULL,
    end_s    REAL    NOT NULL,
    text     TEXT    NOT NULL
);
INSERT INTO cues_v2 (id, video_id, start_s, end_s, text)
    SELECT id, video_id, start_s, end_s, text FROM cues;
DROP TABLE cues;
ALTER TABLE cues_v2 RENAME TO cues;
CREATE INDEX cues_video ON cues(video_id);
"#,
    r#"
ALTER TABLE videos ADD COLUMN missing_since INTEGER;
"#,
    r#"
ALTER TABLE cues ADD COLUMN origin TEXT NOT NULL DEFAULT 'subtitle';
ALTER TABLE videos ADD COLUMN screen_text TEXT;
"#,
];

/// The newest schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Where a video is in the import pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Known, not started.
    Queued,
    /// Started; a crash leaves this, and the import resumes it.
    Importing,
    /// Indexed and searchable.
    Ready,
    /// Gave up; `error` says why.
    Failed,
}

impl Status {
    /// The text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Importing => "importing",
            Status::Ready => "ready",
            Status::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Status::Queued,
            "importing" => Status::Importing,
            "ready" => Status::Ready,
            "failed" => Status::Failed,
            _ => return None,
        })
    }
}

/// What the import knows about a file before decoding it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVideo {
    /// Content hash (the engine's sampled hash); the identity of the video.
    pub hash: String,
    /// Absolute path of the file.
    pub path: String,
    /// The folder it was found in (for the folder filter and the text index).
    pub folder: String,
    /// Container title, if any.
    pub title: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
}

/// A row of `videos`.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    /// Row id.
    pub id: i64,
    /// Content hash.
    pub hash: String,
    /// Last known path.
    pub path: String,
    /// Folder.
    pub folder: String,
    /// Container title.
    pub title: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Modification time (Unix seconds).
    pub mtime: i64,
    /// Duration in seconds, once probed.
    pub duration_s: Option<f64>,
    /// Import status.
    pub status: Status,
    /// Why it failed.
    pub error: Option<String>,
    /// `family/version` of the model its windows were computed with.
    pub model_version: Option<String>,
    /// Feature cache file, relative to the library root.
    pub features_path: Option<String>,
    /// Thumbnail file, relative to the library root.
    pub thumbnail_path: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds: when a rescan found its file gone. Such a video stays in the library
    /// (visible, restorable) but is not searched; finding the file again clears it.
    pub missing_since: Option<i64>,
    /// The language packs its on-screen text was read with (`eng`, `eng+deu`); `None`: not
    /// read (yet).
    pub screen_text: Option<String>,
}

/// A row of `windows`: `id` is the key in the vector index.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The HNSW key.
    pub id: i64,
    /// The video.
    pub video_id: i64,
    /// `family/version`.
    pub model_version: String,
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
}

/// A subtitle cue.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Text, markup already stripped.
    pub text: String,
    /// Where the text comes from.
    pub origin: CueOrigin,
}

/// Where a cue's text comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CueOrigin {
    /// A subtitle track or sidecar file.
    #[default]
    Subtitle,
    /// Read off the picture (on-screen text).
    Screen,
}

impl CueOrigin {
    /// The stored label.
    pub fn as_str(self) -> &'static str {
        match self {
            CueOrigin::Subtitle => "subtitle",
            CueOrigin::Screen => "screen",
        }
    }

    /// An unknown label reads as a subtitle (what every cue was before origins existed).
    fn parse(s: &str) -> Self {
        match s {
            "screen" => CueOrigin::Screen,
            _ => CueOrigin::Subtitle,
        }
    }
}

/// What a finished import records ([`Catalogue::finish_import`]).
#[derive(Debug, Clone, Copy)]
pub struct FinishedImport<'a> {
    /// Decoded duration, seconds.
    pub duration_s: f64,
    /// Feature cache file, relative to the library root.
    pub features_path: Option<&'a str>,
    /// Thumbnail file, relative to the library root.
    pub thumbnail_path: Option<&'a str>,
    /// `family/version` of the windows.
    pub model_version: &'a str,
    /// `[start, end)` seconds of each window, in the order of their vectors.
    pub spans: &'a [(f64, f64)],
    /// Subtitle cues; `None` keeps the stored ones (a re-index from cached features).
    pub cues: Option<&'a [Cue]>,
}

/// What [`Catalogue::remove_video`] deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Removed {
    /// The video row as it was.
    pub video: Video,
    /// Keys of its windows (to remove from the vector indexes).
    pub window_ids: Vec<i64>,
}

/// The catalogue database.
#[derive(Debug)]
pub struct Catalogue {
    path: PathBuf,
    conn: Connection,
}

const VIDEO_COLS: &str = "id, hash, path, folder, title, size, mtime, duration_s, status, error, \
     model_version, features_path, thumbnail_path, created_at, updated_at, missing_since, \
     screen_text";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn video_from_row(row: &Row<'_>) -> rusqlite::Result<Video> {
    let status: String = row.get(8)?;
    let size: i64 = row.get(5)?;
    Ok(Video {
        id: row.get(0)?,
        hash: row.get(1)?,
        path: row.get(2)?,
        folder: row.get(3)?,
        title: row.get(4)?,
        size: size.max(0) as u64,
        mtime: row.get(6)?,
        duration_s: row.get(7)?,
        status: Status::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                8,
                rusqlite::types::Type::Text,
                format!("unknown status {status:?}").into(),
            )
        })?,
        error: row.get(9)?,
        model_version: row.get(10)?,
        features_path: row.get(11)?,
        thumbnail_path: row.get(12)?,
        created_at: row.get(13)?,
        updated_at: row.get(14)?,
        missing_since: row.get(15)?,
        screen_text: row.get(16)?,
    })
}

fn window_from_row(row: &Row<'_>) -> rusqlite::Result<Window> {
    Ok(Window {
        id: row.get(0)?,
        video_id: row.get(1)?,
        model_version: row.get(2)?,
        start_s: row.get(3)?,
        end_s: row.get(4)?,
    })
}

impl Catalogue {
    /// Opens (or with `create`, creates) the database and brings its schema up to date.
    pub fn open(path: &Path, create: bool) -> Result<Self> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let err = |source| Error::catalogue(path.to_path_buf(), source);
        let conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        // One connection per library (the library lock makes sure of it), so SQLite may keep
        // the WAL index in heap memory instead of a `-shm` file: no shared memory to grow,
        // which keeps a library readable on a full disk.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        let mut cat = Self {
            path: path.to_path_buf(),
            conn,
        };
        cat.migrate()?;
        Ok(cat)
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::catalogue(self.path.clone(), source)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> Result<()> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                path: self.path.clone(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
            let tx = self
                .conn
                .transaction()
                .map_err(|e| Error::catalogue(self.path.clone(), e))?;
            let r = tx
                .execute_batch(sql)
                .and_then(|()| tx.pragma_update(None, "user_version", (i + 1) as i64))
                .and_then(|()| tx.commit());
            r.map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Inserts a video, or if its hash is known updates path, folder, title, size and mtime
    /// (the file moved or was renamed; it is no longer missing) and keeps everything else.
    /// Returns the row.
    pub fn upsert_video(&self, v: &NewVideo) -> Result<Video> {
        let size = i64::try_from(v.size)
            .map_err(|_| Error::Invalid(format!("file size {} too large", v.size)))?;
        let t = now();
        let sql = format!(
            "INSERT INTO videos (hash, path, folder, title, size, mtime, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?7)
             ON CONFLICT(hash) DO UPDATE SET path = excluded.path, folder = excluded.folder,
                 title = excluded.title, size = excluded.size, mtime = excluded.mtime,
                 updated_at = excluded.updated_at, missing_since = NULL
             RETURNING {VIDEO_COLS}"
        );
        // Not `query_row`: it resets the statement after the first row and drops what the
        // reset reports, and an autocommit statement commits only when it completes. On a full
        // disk that commit fails, and `query_row` would hand back a row that was never stored.
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![v.hash, v.path, v.folder, v.title, size, v.mtime, t])
            .map_err(|e| self.err(e))?;
        let video = match rows.next().map_err(|e| self.err(e))? {
            Some(row) => video_from_row(row).map_err(|e| self.err(e))?,
            None => return Err(Error::Invalid(format!("{} was not stored", v.path))),
        };
        while rows.next().map_err(|e| self.err(e))?.is_some() {}
        Ok(video)
    }

    /// Sets the status (and the error text: `Some` for failures, `None` clears it).
    pub fn set_status(&self, id: i64, status: Status, error: Option<&str>) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE videos SET status = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, status.as_str(), error, now()],
            )
            .map_err(|e| self.err(e))?;
        self.expect_one(n, id)
    }

    /// Marks the video's file as gone since `since` (Unix seconds), or found again (`None`).
    pub fn set_missing(&self, id: i64, since: Option<i64>) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE videos SET missing_since = ?2 WHERE id = ?1",
                params![id, since],
            )
            .map_err(|e| self.err(e))?;
        self.expect_one(n, id)
    }

    /// Records what decoding produced: duration, feature cache and thumbnail (paths relative
    /// to the library root).
    pub fn set_media(
        &self,
        id: i64,
        duration_s: f64,
        features_path: Option<&str>,
        thumbnail_path: Option<&str>,
    ) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE videos SET duration_s = ?2, features_path = ?3, thumbnail_path = ?4,
                 updated_at = ?5 WHERE id = ?1",
                params![id, duration_s, features_path, thumbnail_path, now()],
            )
            .map_err(|e| self.err(e))?;
        self.expect_one(n, id)
    }

    fn expect_one(&self, n: usize, id: i64) -> Result<()> {
        if n == 1 {
            Ok(())
        } else {
            Err(Error::Invalid(format!("no video with id {id}")))
        }
    }

    /// One video by id.
    pub fn video(&self, id: i64) -> Result<Option<Video>> {
        self.one(
            &format!("SELECT {VIDEO_COLS} FROM videos WHERE id = ?1"),
            id,
        )
    }

    /// One video by content hash.
    pub fn video_by_hash(&self, hash: &str) -> Result<Option<Video>> {
        self.one(
            &format!("SELECT {VIDEO_COLS} FROM videos WHERE hash = ?1"),
            hash,
        )
    }

    /// Videos last seen at `path` (normally zero or one).
    pub fn videos_by_path(&self, path: &str) -> Result<Vec<Video>> {
        self.many(
            &format!("SELECT {VIDEO_COLS} FROM videos WHERE path = ?1 ORDER BY id"),
            params![path],
        )
    }

    /// All videos, oldest first.
    pub fn list_videos(&self) -> Result<Vec<Video>> {
        self.many(&format!("SELECT {VIDEO_COLS} FROM videos ORDER BY id"), [])
    }

    /// Videos with a given status (e.g. `Importing` after a crash, to resume).
    pub fn videos_with_status(&self, status: Status) -> Result<Vec<Video>> {
        self.many(
            &format!("SELECT {VIDEO_COLS} FROM videos WHERE status = ?1 ORDER BY id"),
            params![status.as_str()],
        )
    }

    fn one(&self, sql: &str, p: impl rusqlite::ToSql) -> Result<Option<Video>> {
        self.conn
            .query_row(sql, [p], video_from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    fn many(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Video>> {
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st.query_map(p, video_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Replaces the windows of a video for one model version, in one transaction, and sets
    /// the video's model version. Returns the new windows with their (fresh, never reused)
    /// keys, and the keys of the windows it replaced.
    pub fn replace_windows(
        &mut self,
        video_id: i64,
        model_version: &str,
        spans: &[(f64, f64)],
    ) -> Result<(Vec<Window>, Vec<i64>)> {
        let path = self.path.clone();
        let err = |source| Error::catalogue(path.clone(), source);
        let tx = self.conn.transaction().map_err(err)?;
        let (out, old) = insert_windows(&tx, video_id, model_version, spans).map_err(err)?;
        let n = tx
            .execute(
                "UPDATE videos SET model_version = ?2, updated_at = ?3 WHERE id = ?1",
                params![video_id, model_version, now()],
            )
            .map_err(err)?;
        if n != 1 {
            return Err(Error::Invalid(format!("no video with id {video_id}")));
        }
        tx.commit().map_err(err)?;
        Ok((out, old))
    }

    /// Records a finished import in one transaction: media facts, the windows of
    /// `model_version` (fresh keys), the subtitle cues, and status `ready` with no error. A
    /// crash before the commit leaves the video as it was (e.g. `importing`, resumed later);
    /// after it, everything is there. Returns the new windows and the keys they replaced.
    pub fn finish_import(
        &mut self,
        video_id: i64,
        done: &FinishedImport<'_>,
    ) -> Result<(Vec<Window>, Vec<i64>)> {
        let path = self.path.clone();
        let err = |source| Error::catalogue(path.clone(), source);
        let tx = self.conn.transaction().map_err(err)?;
        let n = tx
            .execute(
                "UPDATE videos SET duration_s = ?2, features_path = ?3, thumbnail_path = ?4,
                 model_version = ?5, status = 'ready', error = NULL, updated_at = ?6
                 WHERE id = ?1",
                params![
                    video_id,
                    done.duration_s,
                    done.features_path,
                    done.thumbnail_path,
                    done.model_version,
                    now()
                ],
            )
            .map_err(err)?;
        if n != 1 {
            return Err(Error::Invalid(format!("no video with id {video_id}")));
        }
        let (windows, old) =
            insert_windows(&tx, video_id, done.model_version, done.spans).map_err(err)?;
        if let Some(cues) = done.cues {
            insert_cues(&tx, video_id, CueOrigin::Subtitle, cues).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok((windows, old))
    }

    /// Every window of `model_version` with its video's content hash, in key order (to
    /// rebuild or reconcile a vector index).
    pub fn windows_of_model(&self, model_version: &str) -> Result<Vec<(Window, String)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT w.id, w.video_id, w.model_version, w.start_s, w.end_s, v.hash
                 FROM windows w JOIN videos v ON v.id = w.video_id
                 WHERE w.model_version = ?1 ORDER BY w.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([model_version], |r| Ok((window_from_row(r)?, r.get(5)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// The windows of a video for one model version, in time order.
    pub fn windows_of(&self, video_id: i64, model_version: &str) -> Result<Vec<Window>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, video_id, model_version, start_s, end_s FROM windows
                 WHERE video_id = ?1 AND model_version = ?2 ORDER BY start_s, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![video_id, model_version], window_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// One window by its HNSW key.
    pub fn window(&self, id: i64) -> Result<Option<Window>> {
        self.conn
            .query_row(
                "SELECT id, video_id, model_version, start_s, end_s FROM windows WHERE id = ?1",
                [id],
                window_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Replaces a video's cues of `origin` (the others stay) in one transaction; `cues` are
    /// stored with that origin. Returns the keys of the cues replaced.
    pub fn replace_cues(
        &mut self,
        video_id: i64,
        origin: CueOrigin,
        cues: &[Cue],
    ) -> Result<Vec<i64>> {
        let path = self.path.clone();
        let err = |source| Error::catalogue(path.clone(), source);
        let tx = self.conn.transaction().map_err(err)?;
        let old = insert_cues(&tx, video_id, origin, cues).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(old)
    }

    /// Stores a video's on-screen text: its `screen` cues replaced by `cues`, and the language
    /// packs they were read with, in one transaction. Returns the keys of the cues replaced.
    pub fn replace_screen_text(
        &mut self,
        video_id: i64,
        languages: &str,
        cues: &[Cue],
    ) -> Result<Vec<i64>> {
        let path = self.path.clone();
        let err = |source| Error::catalogue(path.clone(), source);
        let tx = self.conn.transaction().map_err(err)?;
        let old = insert_cues(&tx, video_id, CueOrigin::Screen, cues).map_err(err)?;
        let n = tx
            .execute(
                "UPDATE videos SET screen_text = ?2 WHERE id = ?1",
                params![video_id, languages],
            )
            .map_err(err)?;
        if n != 1 {
            return Err(Error::Invalid(format!("no video with id {video_id}")));
        }
        tx.commit().map_err(err)?;
        Ok(old)
    }

    /// A video's cues in time order.
    pub fn cues_of(&self, video_id: i64) -> Result<Vec<Cue>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT start_s, end_s, text, origin FROM cues WHERE video_id = ?1
                 ORDER BY start_s, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([video_id], |r| {
                Ok(Cue {
                    start_s: r.get(0)?,
                    end_s: r.get(1)?,
                    text: r.get(2)?,
                    origin: CueOrigin::parse(&r.get::<_, String>(3)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// A video's cues with their keys, in time order.
    pub fn cue_rows(&self, video_id: i64) -> Result<Vec<(i64, Cue)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, start_s, end_s, text, origin FROM cues WHERE video_id = ?1
                 ORDER BY start_s, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([video_id], |r| {
                Ok((
                    r.get(0)?,
                    Cue {
                        start_s: r.get(1)?,
                        end_s: r.get(2)?,
                        text: r.get(3)?,
                        origin: CueOrigin::parse(&r.get::<_, String>(4)?),
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// One cue by key: its video and the cue.
    pub fn cue(&self, id: i64) -> Result<Option<(i64, Cue)>> {
        self.conn
            .query_row(
                "SELECT video_id, start_s, end_s, text, origin FROM cues WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        Cue {
                            start_s: r.get(1)?,
                            end_s: r.get(2)?,
                            text: r.get(3)?,
                            origin: CueOrigin::parse(&r.get::<_, String>(4)?),
                        },
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every cue key of `ready` videos with its video id and content hash, in key order.
    pub fn ready_cue_keys(&self) -> Result<Vec<(i64, i64, String)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT c.id, c.video_id, v.hash FROM cues c JOIN videos v ON v.id = c.video_id
                 WHERE v.status = 'ready' ORDER BY c.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Removes a video with its windows and cues in one transaction. `None` if unknown.
    pub fn remove_video(&mut self, id: i64) -> Result<Option<Removed>> {
        let path = self.path.clone();
        let err = |source| Error::catalogue(path.clone(), source);
        let tx = self.conn.transaction().map_err(err)?;
        let video = tx
            .query_row(
                &format!("SELECT {VIDEO_COLS} FROM videos WHERE id = ?1"),
                [id],
                video_from_row,
            )
            .optional()
            .map_err(err)?;
        let Some(video) = video else {
            return Ok(None);
        };
        let window_ids: Vec<i64> = {
            let mut st = tx
                .prepare("SELECT id FROM windows WHERE video_id = ?1 ORDER BY id")
                .map_err(err)?;
            let rows = st.query_map([id], |r| r.get(0)).map_err(err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        // Cascades to windows and cues.
        tx.execute("DELETE FROM videos WHERE id = ?1", [id])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Some(Removed { video, window_ids }))
    }
}

/// Replaces a video's windows of one model version inside `tx`: returns the new windows (fresh
/// keys) and the keys of the old ones.
fn insert_windows(
    tx: &rusqlite::Transaction<'_>,
    video_id: i64,
    model_version: &str,
    spans: &[(f64, f64)],
) -> rusqlite::Result<(Vec<Window>, Vec<i64>)> {
    let old: Vec<i64> = {
        let mut st =
            tx.prepare("SELECT id FROM windows WHERE video_id = ?1 AND model_version = ?2")?;
        let rows = st.query_map(params![video_id, model_version], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    tx.execute(
        "DELETE FROM windows WHERE video_id = ?1 AND model_version = ?2",
        params![video_id, model_version],
    )?;
    let mut out = Vec::with_capacity(spans.len());
    let mut st = tx.prepare(
        "INSERT INTO windows (video_id, model_version, start_s, end_s) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for &(start_s, end_s) in spans {
        st.execute(params![video_id, model_version, start_s, end_s])?;
        out.push(Window {
            id: tx.last_insert_rowid(),
            video_id,
            model_version: model_version.to_string(),
            start_s,
            end_s,
        });
    }
    Ok((out, old))
}

/// Replaces a video's cues inside `tx`.
/// Replaces the cues of `origin` of a video with `cues` (stored with that origin); returns the
/// keys of the cues deleted.
fn insert_cues(
    tx: &rusqlite::Transaction<'_>,
    video_id: i64,
    origin: CueOrigin,
    cues: &[Cue],
) -> rusqlite::Result<Vec<i64>> {
    let old: Vec<i64> = {
        let mut st = tx.prepare("SELECT id FROM cues WHERE video_id = ?1 AND origin = ?2")?;
        let rows = st.query_map(params![video_id, origin.as_str()], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    tx.execute(
        "DELETE FROM cues WHERE video_id = ?1 AND origin = ?2",
        params![video_id, origin.as_str()],
    )?;
    let mut st = tx.prepare(
        "INSERT INTO cues (video_id, start_s, end_s, text, origin) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for c in cues {
        st.execute(params![
            video_id,
            c.start_s,
            c.end_s,
            c.text,
            origin.as_str()
        ])?;
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtitles_and_screen_text_are_replaced_each_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalogue::open(&dir.path().join("c.sqlite"), true).unwrap();
        let v = c.upsert_video(&new_video("aa", "/videos/a.mp4")).unwrap();
        assert_eq!(v.screen_text, None);
        let cue = |t: &str, origin| Cue {
            start_s: 1.0,
            end_s: 2.0,
            text: t.into(),
            origin,
        };
        c.replace_cues(
            v.id,
            CueOrigin::Subtitle,
            &[cue("said", CueOrigin::Subtitle)],
        )
        .unwrap();
        let old = c
            .replace_screen_text(v.id, "eng", &[cue("shown", CueOrigin::Screen)])
            .unwrap();
        assert!(old.is_empty());
        let origins = |c: &Catalogue| -> Vec<(String, CueOrigin)> {
            c.cues_of(v.id)
                .unwrap()
                .into_iter()
                .map(|x| (x.text, x.origin))
                .collect()
        };
        assert_eq!(
            origins(&c),
            vec![
                ("said".into(), CueOrigin::Subtitle),
                ("shown".into(), CueOrigin::Screen)
            ]
        );
        assert_eq!(
            c.video(v.id).unwrap().unwrap().screen_text.as_deref(),
            Some("eng")
        );
        // New subtitles keep the screen text, and new screen text keeps the subtitles.
        c.replace_cues(v.id, CueOrigin::Subtitle, &[]).unwrap();
        assert_eq!(origins(&c), vec![("shown".into(), CueOrigin::Screen)]);
        let old = c.replace_screen_text(v.id, "eng+deu", &[]).unwrap();
        assert_eq!(old.len(), 1);
        assert!(origins(&c).is_empty());
        assert_eq!(
            c.video(v.id).unwrap().unwrap().screen_text.as_deref(),
            Some("eng+deu")
        );
        assert!(c.replace_screen_text(999, "eng", &[]).is_err());
    }

    fn new_video(hash: &str, path: &str) -> NewVideo {
        NewVideo {
            hash: hash.into(),
            path: path.into(),
            folder: "/videos".into(),
            title: Some("A title".into()),
            size: 1234,
            mtime: 1_700_000_000,
        }
    }

    fn open() -> (tempfile::TempDir, Catalogue) {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalogue::open(&dir.path().join("c.sqlite"), true).unwrap();
        (dir, c)
    }

    #[test]
    fn schema_is_versioned_and_reopen_is_idempotent() {
        let (dir, c) = open();
        assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
        drop(c);
        let c = Catalogue::open(&dir.path().join("c.sqlite"), false).unwrap();
        assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
        let mode: String = c
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn version_1_databases_migrate_keeping_cues() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.sqlite");
        {
            let conn = Connection::open(&p).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO videos (hash, path, folder, size, mtime, status, created_at, updated_at)
                 VALUES ('ab', '/v/a.mp4', '/v', 1, 1, 'ready', 1, 1)",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO cues (id, video_id, start_s, end_s, text) VALUES (5, 1, 1.0, 2.0, 'hi')",
                [],
            )
            .unwrap();
        }
        let mut c = Catalogue::open(&p, false).unwrap();
        assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(c.cue_rows(1).unwrap()[0].0, 5);
        assert_eq!(c.ready_cue_keys().unwrap(), vec![(5, 1, "ab".to_string())]);
        // Keys are never reused after the migration.
        c.replace_cues(1, CueOrigin::Subtitle, &[]).unwrap();
        let cue = Cue {
            origin: CueOrigin::Subtitle,
            start_s: 0.0,
            end_s: 1.0,
            text: "again".into(),
        };
        c.replace_cues(1, CueOrigin::Subtitle, &[cue]).unwrap();
        let id = c.cue_rows(1).unwrap()[0].0;
        assert!(id > 5, "{id}");
        assert_eq!(c.cue(id).unwrap().unwrap().1.text, "again");
        assert!(c.cue(5).unwrap().is_none());
        // Version 3: a video is present until a rescan says otherwise, and found again by hash.
        let v = c.video(1).unwrap().unwrap();
        assert_eq!(v.missing_since, None);
        c.set_missing(1, Some(42)).unwrap();
        assert_eq!(c.video(1).unwrap().unwrap().missing_since, Some(42));
        let again = NewVideo {
            hash: "ab".into(),
            path: "/w/a.mp4".into(),
            folder: "/w".into(),
            title: None,
            size: 1,
            mtime: 2,
        };
        let v = c.upsert_video(&again).unwrap();
        assert_eq!(
            (v.id, v.path.as_str(), v.missing_since),
            (1, "/w/a.mp4", None)
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let (dir, c) = open();
        c.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        assert!(matches!(
            Catalogue::open(&dir.path().join("c.sqlite"), false),
            Err(Error::SchemaTooNew { found: 99, .. })
        ));
    }

    #[test]
    fn upsert_by_hash_keeps_one_row_and_status() {
        let (_d, c) = open();
        let v = c.upsert_video(&new_video("aa11", "/videos/a.mp4")).unwrap();
        assert_eq!(v.status, Status::Queued);
        c.set_status(v.id, Status::Ready, None).unwrap();
        let moved = c.upsert_video(&new_video("aa11", "/other/a.mp4")).unwrap();
        assert_eq!(moved.id, v.id);
        assert_eq!(moved.path, "/other/a.mp4");
        assert_eq!(moved.status, Status::Ready);
        assert_eq!(c.list_videos().unwrap().len(), 1);
        assert_eq!(c.video_by_hash("aa11").unwrap().unwrap().id, v.id);
        assert_eq!(c.videos_by_path("/other/a.mp4").unwrap().len(), 1);
        assert!(c.videos_by_path("/videos/a.mp4").unwrap().is_empty());
        assert!(c.video_by_hash("nope").unwrap().is_none());
    }

    #[test]
    fn status_error_and_media() {
        let (_d, c) = open();
        let v = c.upsert_video(&new_video("bb22", "/v/b.mp4")).unwrap();
        c.set_status(v.id, Status::Failed, Some("moov atom not found"))
            .unwrap();
        c.set_media(
            v.id,
            12.5,
            Some("families/videoclip/features/bb/bb22.f16"),
            None,
        )
        .unwrap();
        let v = c.video(v.id).unwrap().unwrap();
        assert_eq!(v.status, Status::Failed);
        assert_eq!(v.error.as_deref(), Some("moov atom not found"));
        assert_eq!(v.duration_s, Some(12.5));
        assert_eq!(c.videos_with_status(Status::Failed).unwrap().len(), 1);
        assert!(c.set_status(999, Status::Ready, None).is_err());
    }

    #[test]
    fn window_keys_are_never_reused() {
        let (_d, mut c) = open();
        let v = c.upsert_video(&new_video("cc33", "/v/c.mp4")).unwrap();
        let (w1, old) = c
            .replace_windows(v.id, "videoclip/base", &[(0.0, 32.0), (16.0, 40.0)])
            .unwrap();
        assert!(old.is_empty());
        let (w2, old) = c
            .replace_windows(v.id, "videoclip/base", &[(0.0, 40.0)])
            .unwrap();
        assert_eq!(old, vec![w1[0].id, w1[1].id]);
        assert!(w2[0].id > w1[1].id);
        assert_eq!(c.windows_of(v.id, "videoclip/base").unwrap(), w2);
        assert_eq!(c.window(w2[0].id).unwrap().unwrap().end_s, 40.0);
        assert_eq!(
            c.video(v.id).unwrap().unwrap().model_version.as_deref(),
            Some("videoclip/base")
        );
        // Another family's windows are separate.
        c.replace_windows(v.id, "clip/base", &[(0.0, 40.0)])
            .unwrap();
        assert_eq!(c.windows_of(v.id, "videoclip/base").unwrap().len(), 1);
    }

    #[test]
    fn remove_video_takes_everything_in_one_transaction() {
        let (_d, mut c) = open();
        let a = c.upsert_video(&new_video("dd44", "/v/d.mp4")).unwrap();
        let b = c.upsert_video(&new_video("ee55", "/v/e.mp4")).unwrap();
        let (wa, _) = c
            .replace_windows(a.id, "videoclip/base", &[(0.0, 10.0)])
            .unwrap();
        c.replace_windows(b.id, "videoclip/base", &[(0.0, 10.0)])
            .unwrap();
        let cue = Cue {
            origin: CueOrigin::Subtitle,
            start_s: 1.0,
            end_s: 2.5,
            text: "whisk the eggs".into(),
        };
        c.replace_cues(a.id, CueOrigin::Subtitle, std::slice::from_ref(&cue))
            .unwrap();
        c.replace_cues(b.id, CueOrigin::Subtitle, std::slice::from_ref(&cue))
            .unwrap();
        assert_eq!(c.cues_of(a.id).unwrap(), vec![cue]);
        let removed = c.remove_video(a.id).unwrap().unwrap();
        assert_eq!(removed.window_ids, vec![wa[0].id]);
        assert_eq!(removed.video.hash, "dd44");
        assert!(c.video(a.id).unwrap().is_none());
        assert!(c.window(wa[0].id).unwrap().is_none());
        assert!(c.cues_of(a.id).unwrap().is_empty());
        assert_eq!(c.cues_of(b.id).unwrap().len(), 1);
        assert!(c.remove_video(a.id).unwrap().is_none());
    }

    #[test]
    fn uncommitted_work_is_invisible_after_reopen() {
        // A transaction that never commits (the process dies mid-way) leaves nothing behind.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.sqlite");
        let mut c = Catalogue::open(&p, true).unwrap();
        let v = c.upsert_video(&new_video("ff66", "/v/f.mp4")).unwrap();
        let tx = c.conn.transaction().unwrap();
        tx.execute("DELETE FROM videos WHERE id = ?1", [v.id])
            .unwrap();
        // What a kill leaves on disk at this instant: the database and its WAL as they are.
        // (The files are copied: the live connection holds its exclusive lock until the
        // process ends, as a killed process's locks end with it.)
        let crash = dir.path().join("crash");
        std::fs::create_dir(&crash).unwrap();
        for suffix in ["", "-wal"] {
            let from = PathBuf::from(format!("{}{suffix}", p.display()));
            if from.exists() {
                std::fs::copy(&from, crash.join(format!("c.sqlite{suffix}"))).unwrap();
            }
        }
        drop(tx);
        drop(c);
        let c = Catalogue::open(&crash.join("c.sqlite"), false).unwrap();
        assert!(c.video(v.id).unwrap().is_some());
    }

    #[test]
    fn finish_import_is_one_transaction() {
        let (_d, mut c) = open();
        let v = c.upsert_video(&new_video("ab12", "/v/a.mp4")).unwrap();
        c.set_status(v.id, Status::Failed, Some("earlier failure"))
            .unwrap();
        let cues = [Cue {
            origin: CueOrigin::Subtitle,
            start_s: 0.5,
            end_s: 2.0,
            text: "crack the egg".into(),
        }];
        let spans = [(0.0, 32.0), (16.0, 40.0)];
        let done = FinishedImport {
            duration_s: 40.0,
            features_path: Some("families/f/features/ab/ab12.f16"),
            thumbnail_path: Some("thumbnails/ab/ab12.jpg"),
            model_version: "f/v1",
            spans: &spans,
            cues: Some(&cues),
        };
        let (w, old) = c.finish_import(v.id, &done).unwrap();
        assert!(old.is_empty());
        assert_eq!(w.len(), 2);
        let got = c.video(v.id).unwrap().unwrap();
        assert_eq!((got.status, got.error), (Status::Ready, None));
        assert_eq!(got.duration_s, Some(40.0));
        assert_eq!(got.model_version.as_deref(), Some("f/v1"));
        assert_eq!(c.cues_of(v.id).unwrap().len(), 1);
        let all = c.windows_of_model("f/v1").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].1, "ab12");
        assert!(c.windows_of_model("f/v2").unwrap().is_empty());
        // A re-index keeps the cues and replaces the windows.
        let (w2, old) = c
            .finish_import(v.id, &FinishedImport { cues: None, ..done })
            .unwrap();
        assert_eq!(old, vec![w[0].id, w[1].id]);
        assert!(w2[0].id > w[1].id);
        assert_eq!(c.cues_of(v.id).unwrap().len(), 1);
        assert!(c.finish_import(999, &done).is_err());
    }
}
