//! Find by example: the moments that look like a picture (`vclip search --image`) or like a
//! moment of the library (`vclip search --like VIDEO --at S`). No text is involved, so it works
//! the same for every family and every language.
//!
//! 1. **The example as per-second features**, in the space the library caches per backbone: a
//!    picture is read as the models read a frame ([`vclip_media::still_rgb`]: upright, short
//!    side scaled, centre crop) and encoded as one second — for VideoCLIP a still clip of 30
//!    copies of the picture through S3D-G, for CLIP the image tower; a moment is its rows of
//!    the video's cached features (nothing is decoded).
//! 2. **Candidates** come from the window index, as for a typed query: the example's features
//!    pooled as one window by the active model (the video tower, or CLIP's mean) and the
//!    nearest windows' videos, at most [`CANDIDATE_VIDEOS`] (plus the example's own video).
//! 3. **Exact placement** on the per-second features of every candidate video: the example
//!    slides over the video, each offset scoring the mean cosine of its seconds. Features are
//!    centred on the mean of the seconds scanned first, which removes what every second shares
//!    (ReLU features are all positive, CLIP's embeddings share a direction) and leaves what
//!    tells scenes apart. The best offsets that do not overlap become moments, scored by that
//!    similarity, at most `per_video` per video; those below [`MIN_EXAMPLE_SIMILARITY`] are
//!    left out.

use std::collections::HashSet;

use vclip_index::read_features;

use crate::moments::{dot, Fused};
use crate::search::{group_per_video, SearchOptions, SearchResult, Signal, VideoCache};
use crate::store::{Engine, EngineError, Result};

/// Window hits fetched from the index to find candidate videos.
const CANDIDATE_WINDOWS: usize = 200;
/// Videos whose every second is compared with the example.
pub const CANDIDATE_VIDEOS: usize = 48;
/// The longest moment `--like` takes as its example, seconds.
pub const LIKE_MAX_S: f64 = 32.0;
/// Fewer scanned seconds than this are not enough to estimate what they share: no centring.
const MIN_ROWS_TO_CENTRE: usize = 8;
/// Moments less similar than this (centred cosine) to the example are not returned: about 0
/// is a scene with nothing in common.
pub const MIN_EXAMPLE_SIMILARITY: f32 = 0.2;
/// A picture's moment continues over the following seconds while they stay this close to it
/// (in centred cosine), up to [`crate::search::MOMENT_MAX_S`].
const STILL_EXTEND_DROP: f32 = 0.1;

/// What a search by example starts from (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Example {
    /// A picture file: a photo, a screenshot, a frame grabbed from a video.
    #[cfg(feature = "media")]
    Image(std::path::PathBuf),
    /// `duration_s` seconds of a library video from `at_s` (the video: id, content hash or
    /// path, as [`Engine::find`] takes it).
    Moment {
        video: String,
        at_s: f64,
        duration_s: f64,
    },
}

/// The example as unit feature rows, and where it came from in the library.
struct ExampleRows {
    rows: Vec<Vec<f32>>,
    /// The library video and first second of a moment example.
    source: Option<(i64, usize)>,
}

impl Engine {
    /// Moments that look like `example`, most similar first (see the module docs). Results
    /// carry [`Signal::Example`]; `score` is the similarity (centred cosine, at most 1).
    pub fn search_example(
        &self,
        example: &Example,
        opts: &SearchOptions,
    ) -> Result<Vec<SearchResult>> {
        let ex = self.example_rows(example)?;
        self.search_rows(&ex, opts)
    }

    fn example_rows(&self, example: &Example) -> Result<ExampleRows> {
        let active = self.active.as_ref().ok_or(EngineError::NoModel)?;
        match example {
            #[cfg(feature = "media")]
            Example::Image(path) => {
                let feature = crate::encode::still_feature(&active.model, path)?;
                Ok(ExampleRows {
                    rows: vec![feature],
                    source: None,
                })
            }
            Example::Moment {
                video,
                at_s,
                duration_s,
            } => {
                let v = self.find(video)?;
                let not_ready = |reason: String| EngineError::NotReady {
                    video: v.path.clone(),
                    reason,
                };
                let path = self
                    .library()
                    .features_path(active.version.family(), &v.hash)?;
                let f = read_features(&path).map_err(|e| {
                    not_ready(format!(
                        "no per-second features for this model ({e}); `vclip import` it again"
                    ))
                })?;
                if !at_s.is_finite() || *at_s < 0.0 || *at_s >= f.rows as f64 {
                    return Err(not_ready(format!(
                        "--at {at_s} s is outside the video ({} s long)",
                        f.rows
                    )));
                }
                if !duration_s.is_finite() || *duration_s <= 0.0 || *duration_s > LIKE_MAX_S {
                    return Err(EngineError::Invalid(format!(
                        "the example's duration must be more than 0 and at most {LIKE_MAX_S} s, \
                         not {duration_s}"
                    )));
                }
                let start = at_s.floor() as usize;
                let end = ((at_s + duration_s).ceil() as usize).clamp(start + 1, f.rows);
                Ok(ExampleRows {
                    rows: (start..end).map(|i| f.row(i).to_vec()).collect(),
                    source: Some((v.id, start)),
                })
            }
        }
    }

    fn search_rows(&self, ex: &ExampleRows, opts: &SearchOptions) -> Result<Vec<SearchResult>> {
        let active = self.active.as_ref().ok_or(EngineError::NoModel)?;
        let mut videos = VideoCache::default();
        // Candidate videos: the example's own first, then the nearest windows' videos.
        let mut candidates: Vec<i64> = Vec::new();
        if let Some((id, _)) = ex.source {
            if self.admitted_video(id, opts, &mut videos)? {
                candidates.push(id);
            }
        }
        let query = self.pooled(&ex.rows)?;
        let hits = {
            let ix = active.vectors.read().unwrap_or_else(|e| e.into_inner());
            if ix.is_empty() {
                Vec::new()
            } else {
                ix.search(&query, CANDIDATE_WINDOWS)?
            }
        };
        let mut seen: HashSet<i64> = candidates.iter().copied().collect();
        for h in hits {
            if candidates.len() >= CANDIDATE_VIDEOS {
                break;
            }
            let Some(w) = self.library().catalogue().window(h.key as i64)? else {
                continue;
            };
            if seen.insert(w.video_id) && self.admitted_video(w.video_id, opts, &mut videos)? {
                candidates.push(w.video_id);
            }
        }
        // Their per-second features, unit length.
        let mut scanned: Vec<(i64, Vec<Vec<f32>>)> = Vec::new();
        for id in candidates {
            let Some(v) = videos.get(self, id)? else {
                continue;
            };
            let path = self
                .library()
                .features_path(active.version.family(), &v.hash)?;
            // A video without readable features for this backbone cannot be compared (reindex
            // or import reports it); the others still can.
            if let Ok(f) = read_features(&path) {
                scanned.push((id, (0..f.rows).map(|i| f.row(i).to_vec()).collect()));
            }
        }
        let centre = centre_of(scanned.iter().flat_map(|(_, rows)| rows.iter()));
        let example: Vec<Vec<f32>> = ex
            .rows
            .iter()
            .map(|r| centred(r, centre.as_deref()))
            .collect();
        let mut moments: Vec<(Fused<i64>, ())> = Vec::new();
        for (id, rows) in &scanned {
            let rows: Vec<Vec<f32>> = rows.iter().map(|r| centred(r, centre.as_deref())).collect();
            for (start, len, score) in place(&example, &rows, opts.per_video) {
                if score < MIN_EXAMPLE_SIMILARITY {
                    continue;
                }
                moments.push((
                    Fused {
                        video: *id,
                        start_s: start as f64,
                        end_s: (start + len) as f64,
                        score: f64::from(score),
                        signals: Vec::new(),
                    },
                    (),
                ));
            }
        }
        moments.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
        let grouped = group_per_video(moments, opts.per_video, opts.limit);
        let mut out = Vec::with_capacity(grouped.len());
        for (f, ()) in grouped {
            let Some(video) = videos.get(self, f.video)? else {
                continue;
            };
            let path = video.path.clone();
            let snippet = self.cue_at(f.video, f.start_s, f.end_s)?;
            out.push(SearchResult {
                video_id: f.video,
                path,
                start_s: f.start_s,
                end_s: f.end_s,
                score: f.score,
                signals: vec![Signal::Example],
                snippet: snippet.map(|s| s.text),
                highlights: Vec::new(),
            });
        }
        Ok(out)
    }

    /// The example's seconds pooled as one window by the active model: a vector of the window
    /// index's space.
    fn pooled(&self, rows: &[Vec<f32>]) -> Result<Vec<f32>> {
        let active = self.active.as_ref().ok_or(EngineError::NoModel)?;
        let model = &active.model;
        let err = |source| EngineError::Model {
            context: "pooling the example as a window".to_owned(),
            source,
        };
        let n = rows.len().min(model.max_window()).max(1);
        let dim = rows.first().map_or(0, Vec::len);
        let flat: Vec<f32> = rows.iter().take(n).flatten().copied().collect();
        let t = candle_core::Tensor::from_vec(flat, (n, dim), model.device())
            .map_err(|e| err(e.into()))?;
        let states = model.window_states(&t, n, n).map_err(err)?;
        states
            .pooled
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::Invalid("the example pooled to no window".to_owned()))
    }

    fn admitted_video(
        &self,
        video_id: i64,
        opts: &SearchOptions,
        videos: &mut VideoCache,
    ) -> Result<bool> {
        Ok(videos.get(self, video_id)?.is_some_and(|v| opts.admits(v)))
    }
}

/// The mean of `rows`, or `None` when there are too few to tell what they share.
fn centre_of<'a>(rows: impl Iterator<Item = &'a Vec<f32>>) -> Option<Vec<f32>> {
    let mut sum: Vec<f64> = Vec::new();
    let mut n = 0usize;
    for r in rows {
        if sum.is_empty() {
            sum = vec![0.0; r.len()];
        }
        if r.len() != sum.len() {
            continue;
        }
        for (s, &x) in sum.iter_mut().zip(r) {
            *s += f64::from(x);
        }
        n += 1;
    }
    (n >= MIN_ROWS_TO_CENTRE).then(|| sum.iter().map(|s| (s / n as f64) as f32).collect())
}

/// `row` minus `centre`, scaled to unit length (a zero row stays zero).
fn centred(row: &[f32], centre: Option<&[f32]>) -> Vec<f32> {
    let mut v: Vec<f32> = match centre {
        Some(c) if c.len() == row.len() => row.iter().zip(c).map(|(x, m)| x - m).collect(),
        _ => row.to_vec(),
    };
    let norm = dot(&v, &v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The best non-overlapping placements of `example` (unit rows) in `rows` (unit rows), best
/// first, at most `max`: `(first second, length, mean cosine)`. An example longer than the
/// video is compared over the part that fits. A one-second example (a picture) extends over
/// the following seconds that stay close to it.
fn place(example: &[Vec<f32>], rows: &[Vec<f32>], max: usize) -> Vec<(usize, usize, f32)> {
    let e = example.len();
    if e == 0 || rows.is_empty() {
        return Vec::new();
    }
    let len = e.min(rows.len());
    let offsets = rows.len() - len + 1;
    let mut scored: Vec<(usize, f32)> = (0..offsets)
        .map(|t| {
            let s: f32 = (0..len).map(|j| dot(&example[j], &rows[t + j])).sum();
            (t, s / len as f32)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut taken: Vec<(usize, usize, f32)> = Vec::new();
    for (t, score) in scored {
        if taken.len() >= max.max(1) {
            break;
        }
        let mut end = t + len;
        if e == 1 {
            while end < rows.len()
                && end - t < crate::search::MOMENT_MAX_S
                && dot(&example[0], &rows[end]) >= score - STILL_EXTEND_DROP
            {
                end += 1;
            }
        }
        if taken.iter().all(|&(s, l, _)| end <= s || t >= s + l) {
            taken.push((t, end - t, score));
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        centred(v, None)
    }

    #[test]
    fn an_example_is_placed_where_its_seconds_line_up() {
        let rows: Vec<Vec<f32>> = [
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [1.0, 1.0, 0.0],
            [0.0, 1.0, 1.0],
        ]
        .iter()
        .map(|r| unit(r))
        .collect();
        // Seconds 2–3 of the video, slightly perturbed.
        let example = vec![unit(&[0.1, 0.0, 1.0]), unit(&[1.0, 0.9, 0.1])];
        let placed = place(&example, &rows, 2);
        assert_eq!(placed[0].0, 2);
        assert_eq!(placed[0].1, 2);
        assert!(placed[0].2 > 0.98, "{placed:?}");
        // The runner-up does not overlap the best.
        assert!(
            placed.len() == 2 && (placed[1].0 + 2 <= 2 || placed[1].0 >= 4),
            "{placed:?}"
        );
    }

    #[test]
    fn a_picture_extends_over_the_seconds_that_still_show_it() {
        let a = unit(&[1.0, 0.0, 0.0]);
        let b = unit(&[0.0, 1.0, 0.0]);
        let rows = vec![b.clone(), a.clone(), a.clone(), a.clone(), b.clone()];
        let placed = place(&[a], &rows, 1);
        assert_eq!(placed, vec![(1, 3, 1.0)]);
        // Longer examples than the video compare what fits; empty inputs place nothing.
        assert_eq!(place(&rows, &rows[..2], 1)[0].0, 0);
        assert!(place(&[], &rows, 3).is_empty());
    }

    #[test]
    fn centring_removes_what_every_second_shares() {
        // Three scenes on a large common component: raw cosines are all near 1.
        let shared = [10.0, 10.0, 10.0, 10.0];
        let scenes = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ];
        let rows: Vec<Vec<f32>> = (0..9)
            .map(|i| {
                shared
                    .iter()
                    .zip(&scenes[i % 3])
                    .map(|(s, x)| s + x)
                    .collect()
            })
            .collect();
        let raw = dot(&unit(&rows[0]), &unit(&rows[1]));
        assert!(raw > 0.99);
        let c = centre_of(rows.iter()).expect("enough rows");
        let cen = dot(&centred(&rows[0], Some(&c)), &centred(&rows[1], Some(&c)));
        assert!(cen < 0.0, "{cen}");
        assert!(centre_of(rows[..3].iter()).is_none());
    }
}
