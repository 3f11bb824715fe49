//! `retry_failed`: imports the library's failed videos again (issue #5), the half of the
//! command that needs no window. It lives beside `app.rs` because it uses only [`AppCore`]'s
//! public functions: the catalogue's list, then the same import a drop starts.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::{AppCore, CommandError, EmitImport, ImportStarted};

/// What `retry_failed` started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RetryStarted {
    /// The import batch (as for a drop), or `None` when none of the videos had failed.
    pub started: Option<ImportStarted>,
    /// How many failed videos it imports again.
    pub videos: usize,
}

impl AppCore {
    /// `retry_failed`: imports again the failed videos among `ids` (`None`: every failed
    /// video), by their paths, as a drop of those files would. An id that is not in the
    /// library is refused (nothing starts); a video that has not failed is left alone. Where
    /// the file is still damaged or missing, the import fails again and the video keeps (or
    /// gets) the reason.
    pub fn retry_failed(
        self: &Arc<Self>,
        ids: Option<Vec<i64>>,
        emit: EmitImport,
    ) -> Result<RetryStarted, CommandError> {
        self.can_import()?;
        let listed = self.engine()?.list()?;
        if let Some(ids) = &ids {
            if let Some(unknown) = ids.iter().find(|id| !listed.iter().any(|v| v.id == **id)) {
                return Err(CommandError::NotFound {
                    message: format!("no video with id {unknown} in the library"),
                });
            }
        }
        let paths: Vec<PathBuf> = listed
            .into_iter()
            .filter(|v| v.status == "failed")
            .filter(|v| ids.as_ref().is_none_or(|ids| ids.contains(&v.id)))
            .map(|v| PathBuf::from(v.path))
            .collect();
        if paths.is_empty() {
            // Never an empty `import_paths`: that means "resume what was interrupted".
            return Ok(RetryStarted {
                started: None,
                videos: 0,
            });
        }
        let videos = paths.len();
        let started = self.import_paths(paths, emit)?;
        Ok(RetryStarted {
            started: Some(started),
            videos,
        })
    }
}
