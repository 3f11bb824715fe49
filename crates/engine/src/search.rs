//! Search: a typed query in, ranked moments out.
//!
//! 1. **Visual**: the query through the text tower; the nearest windows in the HNSW index;
//!    each window refined to a moment from the per-second token states
//!    ([`crate::moments::refine_moment`], DiDeMo-style span scoring). Ranked by window score.
//! 2. **Subtitle**: BM25 over subtitle cues (tantivy); each hit is the cue's time range,
//!    weighted in the fusion by the share of the query's words the cue contains. **Screen**:
//!    the same over the text read off the picture ([`crate::screen`]), as its own list.
//! 3. **Semantic** (when a sentence encoder is enabled, [`crate::sentences`]): the cues
//!    nearest to the query in meaning; each hit is the cue's time range.
//! 4. **Name**: BM25 hits on the file name, folder names or container title apply to the whole
//!    video: they add their reciprocal rank to every moment of that video (or bring its opening
//!    in when nothing else found it), without stretching any moment.
//!
//! Lists 1–3 (and screen) are fused by reciprocal rank on the per-second axis ([`crate::moments::fuse`]):
//! hits of the same video that overlap in time are one moment. Moments are then grouped per
//! video (a video's best moment decides its place, at most `per_video` moments each).
//! Only `ready` videos are ever returned, so an import in progress never shows half an entry.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use serde::Serialize;
use vclip_index::{read_features, Features, Snippet, Status, TextHit, TextKind, Video};

use crate::moments::{fuse, refine_moment, Fused, Hit, RRF_K};
use crate::store::{Engine, Result};

/// Shortest and longest moment a window hit is refined to, seconds.
pub const MOMENT_MIN_S: usize = 4;
pub const MOMENT_MAX_S: usize = 16;
/// Cosine similarity below which a subtitle line is not related to the query in meaning. For
/// all-MiniLM-L6-v2, paraphrases score 0.4–0.9 and unrelated lines 0.0–0.2 (e.g. "how do I beat
/// eggs" vs "whisk them until fluffy" 0.40, vs "tighten the bolts" 0.18).
pub const MIN_SEMANTIC_SIMILARITY: f32 = 0.3;
/// Hits fetched per signal before fusion.
const CANDIDATES: usize = 100;

/// Which signal found a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// The video embedding (VideoCLIP window + moment refinement).
    Visual,
    /// Words of a subtitle cue (BM25).
    Subtitle,
    /// The meaning of a subtitle cue (sentence embeddings), without sharing a word.
    Semantic,
    /// The file name, a folder name or the container title (BM25).
    Name,
    /// Looks like the example of a search by example ([`crate::example`]).
    Example,
    /// Words shown on screen (text read off the picture, BM25).
    Screen,
}

/// Filters and sizes of a search.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Moments returned at most.
    pub limit: usize,
    /// Moments per video at most.
    pub per_video: usize,
    /// Only videos inside this folder (or its subfolders).
    pub folder: Option<String>,
    /// Only videos at least / at most this long, seconds.
    pub min_duration_s: Option<f64>,
    pub max_duration_s: Option<f64>,
    /// Only videos whose file was modified in `[after, before)`, Unix seconds.
    pub modified_after: Option<i64>,
    pub modified_before: Option<i64>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            limit: 10,
            per_video: 3,
            folder: None,
            min_duration_s: None,
            max_duration_s: None,
            modified_after: None,
            modified_before: None,
        }
    }
}

impl SearchOptions {
    pub(crate) fn admits(&self, v: &Video) -> bool {
        let folder_ok = self.folder.as_deref().is_none_or(|f| {
            let f = f.trim_end_matches(std::path::MAIN_SEPARATOR);
            v.folder == f
                || v.folder
                    .strip_prefix(f)
                    .is_some_and(|rest| rest.starts_with(std::path::MAIN_SEPARATOR))
        });
        let d = v.duration_s.unwrap_or(0.0);
        folder_ok
            && v.status == Status::Ready
            && v.missing_since.is_none()
            && self.min_duration_s.is_none_or(|m| d >= m)
            && self.max_duration_s.is_none_or(|m| d <= m)
            && self.modified_after.is_none_or(|t| v.mtime >= t)
            && self.modified_before.is_none_or(|t| v.mtime < t)
    }
}

/// One moment of the results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResult {
    pub video_id: i64,
    pub path: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Fused reciprocal-rank score (higher is better).
    pub score: f64,
    /// The signals that found this moment, strongest first.
    pub signals: Vec<Signal>,
    /// The subtitle text at the moment, if any.
    pub snippet: Option<String>,
    /// Byte ranges of `snippet` that matched the query's words.
    pub highlights: Vec<(usize, usize)>,
}

impl Engine {
    /// Searches the library for `query`; see the module docs.
    pub fn search(&self, query: &str, opts: &SearchOptions) -> Result<Vec<SearchResult>> {
        let query_vec = match &self.active {
            Some(a) if !query.trim().is_empty() => {
                let t = a
                    .model
                    .embed_texts(&[query])
                    .and_then(|t| Ok(t.to_device(&vclip_model::Device::Cpu)?.to_vec2::<f32>()?))
                    .map_err(|source| crate::EngineError::Model {
                        context: format!("encoding the query {query:?}"),
                        source,
                    })?;
                t.into_iter().next()
            }
            _ => None,
        };
        self.search_with(query, query_vec.as_deref(), opts)
    }

    /// Searches with a given query vector (the visual signal only): the plumbing without the
    /// text tower, e.g. to find the windows nearest to a stored one.
    pub fn search_vector(&self, vector: &[f32], opts: &SearchOptions) -> Result<Vec<SearchResult>> {
        self.search_with("", Some(vector), opts)
    }

    fn search_with(
        &self,
        query: &str,
        vector: Option<&[f32]>,
        opts: &SearchOptions,
    ) -> Result<Vec<SearchResult>> {
        let mut videos = VideoCache::default();
        let visual = match vector {
            Some(v) => self.visual_hits(v, opts, &mut videos)?,
            None => Vec::new(),
        };
        let text_hits = if query.trim().is_empty() {
            Vec::new()
        } else {
            self.text_read().search(query, CANDIDATES)?
        };
        let mut subtitle_hits: Vec<&TextHit> = Vec::new();
        let mut screen_hits: Vec<&TextHit> = Vec::new();
        let mut name_videos: Vec<i64> = Vec::new();
        for h in &text_hits {
            if !self.admitted(h.video_id, opts, &mut videos)? {
                continue;
            }
            match h.kind {
                TextKind::Subtitle => subtitle_hits.push(h),
                TextKind::Screen => screen_hits.push(h),
                _ if !name_videos.contains(&h.video_id) => name_videos.push(h.video_id),
                _ => {}
            }
        }
        let words = |hits: &[&TextHit]| -> Vec<Hit<i64>> {
            hits.iter()
                .map(|h| Hit {
                    video: h.video_id,
                    start_s: h.start_s,
                    end_s: h.end_s,
                    weight: subtitle_weight(h.coverage),
                })
                .collect()
        };
        let (subtitle, screen) = (words(&subtitle_hits), words(&screen_hits));
        let mut semantic_cues: Vec<vclip_index::Cue> = Vec::new();
        let mut semantic: Vec<Hit<i64>> = Vec::new();
        for (key, similarity) in self.semantic_hits(query, CANDIDATES)? {
            if similarity < MIN_SEMANTIC_SIMILARITY {
                // Best first: everything after this is unrelated too.
                break;
            }
            let Some((video_id, cue)) = self.library().catalogue().cue(key)? else {
                continue;
            };
            if !self.admitted(video_id, opts, &mut videos)? {
                continue;
            }
            semantic.push(Hit {
                video: video_id,
                start_s: cue.start_s,
                end_s: cue.end_s,
                weight: 1.0,
            });
            semantic_cues.push(cue);
        }
        let mut fused = fuse(&[visual, subtitle, semantic, screen], RRF_K, 0.0);
        // Video-level name hits: boost every moment of the video, or bring in its opening.
        let mut name_signal: HashSet<usize> = HashSet::new();
        for (rank, &video_id) in name_videos.iter().enumerate() {
            let contribution = 1.0 / (RRF_K + rank as f64 + 1.0);
            let mut found = false;
            for (i, f) in fused.iter_mut().enumerate() {
                if f.video == video_id {
                    f.score += contribution;
                    name_signal.insert(i);
                    found = true;
                }
            }
            if !found {
                let duration = videos
                    .get(self, video_id)?
                    .and_then(|v| v.duration_s)
                    .unwrap_or(0.0);
                name_signal.insert(fused.len());
                fused.push(Fused {
                    video: video_id,
                    start_s: 0.0,
                    end_s: duration.min(MOMENT_MAX_S as f64),
                    score: contribution,
                    signals: Vec::new(),
                });
            }
        }
        let mut moments: Vec<(Fused<i64>, bool)> = fused
            .into_iter()
            .enumerate()
            .map(|(i, f)| (f, name_signal.contains(&i)))
            .collect();
        moments.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
        let grouped = group_per_video(moments, opts.per_video, opts.limit);

        let mut out = Vec::with_capacity(grouped.len());
        for (f, by_name) in grouped {
            let Some(video) = videos.get(self, f.video)? else {
                continue;
            };
            let mut signals: Vec<Signal> = f
                .signals
                .iter()
                .map(|&(s, _)| match s {
                    0 => Signal::Visual,
                    1 => Signal::Subtitle,
                    2 => Signal::Semantic,
                    _ => Signal::Screen,
                })
                .collect();
            if by_name {
                signals.push(Signal::Name);
            }
            let rank = |signal: usize| f.signals.iter().find(|s| s.0 == signal).map(|s| s.1);
            let snippet = match (
                rank(1).and_then(|r| subtitle_hits.get(r)),
                rank(2).and_then(|r| semantic_cues.get(r)),
                rank(3).and_then(|r| screen_hits.get(r)),
            ) {
                (Some(h), _, _) => Some(h.snippet.clone()),
                (None, Some(c), _) => Some(Snippet {
                    text: c.text.clone(),
                    highlights: Vec::new(),
                }),
                (None, None, Some(h)) => Some(h.snippet.clone()),
                (None, None, None) => self.cue_at(f.video, f.start_s, f.end_s)?,
            };
            out.push(SearchResult {
                video_id: f.video,
                path: video.path.clone(),
                start_s: f.start_s,
                end_s: f.end_s,
                score: f.score,
                signals,
                highlights: snippet
                    .as_ref()
                    .map(|s| s.highlights.iter().map(|r| (r.start, r.end)).collect())
                    .unwrap_or_default(),
                snippet: snippet.map(|s| s.text),
            });
        }
        Ok(out)
    }

    fn admitted(
        &self,
        video_id: i64,
        opts: &SearchOptions,
        videos: &mut VideoCache,
    ) -> Result<bool> {
        Ok(videos.get(self, video_id)?.is_some_and(|v| opts.admits(v)))
    }

    /// Window hits of the active model's index, refined to moments, best window first.
    fn visual_hits(
        &self,
        query: &[f32],
        opts: &SearchOptions,
        videos: &mut VideoCache,
    ) -> Result<Vec<Hit<i64>>> {
        let Some(active) = &self.active else {
            return Ok(Vec::new());
        };
        let hits = {
            let ix = active.vectors.read().unwrap_or_else(|e| e.into_inner());
            if ix.is_empty() {
                return Ok(Vec::new());
            }
            ix.search(query, CANDIDATES)?
        };
        let mut tokens: HashMap<i64, Option<Features>> = HashMap::new();
        let mut out = Vec::with_capacity(hits.len());
        for h in hits {
            let Some(w) = self.library().catalogue().window(h.key as i64)? else {
                continue;
            };
            if !self.admitted(w.video_id, opts, videos)? {
                continue;
            }
            let (start, end) = (w.start_s as usize, w.end_s as usize);
            if let Entry::Vacant(slot) = tokens.entry(w.video_id) {
                let hash = videos.get(self, w.video_id)?.map(|v| v.hash.clone());
                let f = match hash {
                    Some(hash) => {
                        let p = self.library().tokens_path(&active.version, &hash)?;
                        read_features(&p).ok()
                    }
                    None => None,
                };
                slot.insert(f);
            }
            let states = tokens.get(&w.video_id).and_then(Option::as_ref);
            let moment = states.and_then(|f| {
                let end = end.min(f.rows);
                let rows: Vec<Vec<f32>> = (start..end).map(|i| f.row(i).to_vec()).collect();
                let min = MOMENT_MIN_S.min(rows.len());
                refine_moment(&rows, query, start, min, MOMENT_MAX_S)
            });
            let (s, e) = match moment {
                Some(m) => (m.start_s as f64, m.end_s as f64),
                None => (w.start_s, w.end_s),
            };
            out.push(Hit {
                video: w.video_id,
                start_s: s,
                end_s: e,
                weight: 1.0,
            });
        }
        Ok(out)
    }

    /// The first subtitle cue overlapping `[start, end)`, as an unhighlighted snippet.
    pub(crate) fn cue_at(&self, video_id: i64, start: f64, end: f64) -> Result<Option<Snippet>> {
        let cues = self.library().catalogue().cues_of(video_id)?;
        Ok(cues
            .into_iter()
            .find(|c| c.start_s < end && c.end_s > start)
            .map(|c| Snippet {
                text: c.text,
                highlights: Vec::new(),
            }))
    }
}

/// Weight of a subtitle hit in the fusion: `1 + coverage`, so a cue with every word the user
/// typed counts twice a plain rank. Exact words spoken at a moment are strong evidence; a
/// cue sharing one word of a long query is not.
fn subtitle_weight(coverage: f32) -> f64 {
    1.0 + f64::from(coverage.clamp(0.0, 1.0))
}

/// Orders moments by their video's best moment, keeps at most `per_video` per video and
/// `limit` in all. `moments` must be sorted best first.
pub(crate) fn group_per_video<T>(
    moments: Vec<(Fused<i64>, T)>,
    per_video: usize,
    limit: usize,
) -> Vec<(Fused<i64>, T)> {
    let mut order: Vec<i64> = Vec::new();
    let mut groups: HashMap<i64, Vec<(Fused<i64>, T)>> = HashMap::new();
    for m in moments {
        let g = groups.entry(m.0.video).or_default();
        if g.is_empty() {
            order.push(m.0.video);
        }
        if g.len() < per_video.max(1) {
            g.push(m);
        }
    }
    let mut out = Vec::new();
    for v in order {
        if let Some(g) = groups.remove(&v) {
            out.extend(g);
        }
    }
    out.truncate(limit);
    out
}

/// Videos looked up during one search.
#[derive(Default)]
pub(crate) struct VideoCache(HashMap<i64, Option<Video>>);

impl VideoCache {
    pub(crate) fn get(&mut self, engine: &Engine, id: i64) -> Result<Option<&Video>> {
        if let Entry::Vacant(slot) = self.0.entry(id) {
            slot.insert(engine.library().catalogue().video(id)?);
        }
        Ok(self.0.get(&id).and_then(Option::as_ref))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(video: i64, score: f64) -> (Fused<i64>, ()) {
        (
            Fused {
                video,
                start_s: 0.0,
                end_s: 1.0,
                score,
                signals: vec![],
            },
            (),
        )
    }

    #[test]
    fn moments_group_under_their_videos_best() {
        let m = vec![
            f(1, 0.9),
            f(2, 0.8),
            f(1, 0.7),
            f(1, 0.6),
            f(1, 0.5),
            f(3, 0.4),
        ];
        let g = group_per_video(m, 3, 10);
        let order: Vec<(i64, f64)> = g.iter().map(|(f, _)| (f.video, f.score)).collect();
        assert_eq!(
            order,
            vec![(1, 0.9), (1, 0.7), (1, 0.6), (2, 0.8), (3, 0.4)]
        );
        assert_eq!(group_per_video(vec![f(1, 0.9), f(2, 0.8)], 3, 1).len(), 1);
    }
}
