//! Where else does this footage appear: videos of the library that share footage (the same
//! recording re-encoded, resized, trimmed, or cut into a compilation), with the time ranges
//! that match on both sides (`vclip duplicates`).
//!
//! Footage is compared second by second on the videos' picture fingerprints
//! ([`crate::fingerprint`]: the 16×16 luma of each second's frame, written at import; videos
//! imported before fingerprints existed are decoded once to make them). They depend on the
//! pictures only, so the answer is the same whatever model the library uses, random test
//! models included. Two seconds are compared by the normalised cross-correlation of their
//! fingerprints (1: the same picture); flat frames (black, a plain colour) are never compared.
//!
//! 1. **Seeds**: each second gets a sign signature on [`BANDS`] × [`BITS`] random hyperplanes
//!    (SimHash); two seconds of different videos whose signatures agree on a whole band are a
//!    candidate pair, kept when they correlate at least `opts.similarity`. Bands shared by too
//!    many seconds ([`MAX_BUCKET`]: a black screen, a logo on every video) seed nothing.
//! 2. **Runs**: a seed is extended along its diagonal (the same time offset between the two
//!    videos), second by second, while the seconds stay alike (a single weaker second is
//!    bridged). A run counts when it lasts at least `opts.min_run_s` seconds, its mean
//!    correlation is at least `opts.similarity`, and its footage changes within the run (a still picture
//!    matches at every offset, so no time range could be named; a black screen is not footage).
//! 3. **Placement**: of the runs between two videos, the longest (then most alike) that do not
//!    overlap on either side are kept. Videos joined by runs form a group.
//!
//! Similar-looking but different scenes rarely agree second by second for several seconds at a
//! constant offset, which is what makes this precise where frame look-alikes are not.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use vclip_index::{read_features, Status, Video};

use crate::finetune::rng::SplitMix64;
use crate::fingerprint::{normalised, CELLS};
use crate::moments::dot;
use crate::progress::{CancelToken, ProgressSink, Tracker};
use crate::store::{Engine, EngineError, Result};

/// Signature bands and bits per band (see the module docs).
const BANDS: usize = 12;
const BITS: usize = 10;
/// Seconds sharing one band value beyond which the bucket seeds nothing.
const MAX_BUCKET: usize = 256;
/// The seed of the hyperplanes: the same signatures on every run.
const HYPERPLANE_SEED: u64 = 0x5eed_d0b1;
/// A run's footage must change: some second of it at most this alike (cosine) to its first.
const MAX_STILL_SIMILARITY: f32 = 0.9;

/// What counts as shared footage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuplicateOptions {
    /// Shortest shared run, seconds.
    pub min_run_s: usize,
    /// Lowest correlation of two seconds' fingerprints that match, and of a run's mean.
    pub similarity: f32,
    /// Decode the videos that have no fingerprints yet to make them; `false` reports them as
    /// skipped instead (a quick answer, e.g. while a video plays).
    pub make_missing: bool,
}

impl Default for DuplicateOptions {
    fn default() -> Self {
        Self {
            min_run_s: 5,
            similarity: 0.9,
            make_missing: true,
        }
    }
}

/// A time range of one video.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FootageSpan {
    pub video_id: i64,
    pub path: String,
    pub start_s: f64,
    pub end_s: f64,
}

/// The same footage in two videos.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SharedFootage {
    pub a: FootageSpan,
    pub b: FootageSpan,
    /// Mean correlation of the run's seconds' fingerprints (1: the same pictures).
    pub similarity: f64,
}

/// Videos that share footage, and where.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DuplicateGroup {
    /// The videos of the group: (id, path), by id.
    pub videos: Vec<(i64, String)>,
    /// Every shared run between two of them, by the first video then its start.
    pub shared: Vec<SharedFootage>,
}

/// What `duplicates` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DuplicatesReport {
    /// Groups, the largest first.
    pub groups: Vec<DuplicateGroup>,
    /// Videos compared.
    pub videos: usize,
    /// Videos whose fingerprints were made now by decoding them (imported before fingerprints
    /// existed).
    pub fingerprinted: usize,
    /// Ready videos that could not be compared, with why (a file gone or unreadable).
    pub skipped: Vec<(String, String)>,
}

/// One video's seconds: normalised fingerprints, row-major (a flat frame is all zeros).
struct Seconds {
    id: i64,
    path: String,
    dim: usize,
    rows: Vec<f32>,
}

impl Seconds {
    fn len(&self) -> usize {
        self.rows.len() / self.dim.max(1)
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.dim..(i + 1) * self.dim]
    }
}

/// A shared run: seconds `[i, i + len)` of video `a` are `[j, j + len)` of video `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    i: usize,
    j: usize,
    len: usize,
    similarity: f32,
}

impl Engine {
    /// Groups the ready videos that share footage (see the module docs). Videos without
    /// fingerprints are decoded once to make them (with the media feature; without it they are
    /// reported as skipped).
    pub fn duplicates(
        &self,
        opts: &DuplicateOptions,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<DuplicatesReport> {
        if opts.min_run_s == 0 || !(opts.similarity > 0.0 && opts.similarity <= 1.0) {
            return Err(EngineError::Invalid(format!(
                "duplicates need a run of at least 1 s and a similarity in (0, 1], not {} s and {}",
                opts.min_run_s, opts.similarity
            )));
        }
        let ready: Vec<Video> = self
            .videos_with_status(Status::Ready)?
            .into_iter()
            .filter(|v| v.missing_since.is_none())
            .collect();
        let mut tracker = Tracker::new("duplicates", "videos", Some(ready.len() as u64 + 1));
        tracker.start(sink);
        let mut skipped = Vec::new();
        let mut fingerprinted = 0;
        let mut videos: Vec<Seconds> = Vec::new();
        for v in ready {
            if let Err(e) = cancel.check() {
                tracker.cancelled(sink);
                return Err(e.into());
            }
            tracker.set_current(Some(v.path.clone()));
            let path = self.library().fingerprint_path(&v.hash)?;
            let rows = match read_features(&path) {
                Ok(f) if f.cols == CELLS => Ok(f.data),
                _ if !opts.make_missing => Err(EngineError::NotReady {
                    video: v.path.clone(),
                    reason: "has no fingerprints yet".to_owned(),
                }),
                _ => {
                    let made = self.fingerprint_now(&v, cancel);
                    if made.is_ok() {
                        fingerprinted += 1;
                    }
                    made
                }
            };
            match rows {
                Ok(rows) => videos.push(Seconds::of_fingerprints(v.id, v.path, &rows)),
                Err(EngineError::Cancelled) => {
                    tracker.cancelled(sink);
                    return Err(EngineError::Cancelled);
                }
                Err(e) => skipped.push((v.path, e.to_string())),
            }
            tracker.advance(1, sink);
        }
        tracker.set_current(None);
        let seeds = seeds(&videos, opts.similarity);
        let mut pairs: Vec<(usize, usize, Vec<Run>)> = Vec::new();
        for (&(a, b), pair_seeds) in &seeds {
            if let Err(e) = cancel.check() {
                tracker.cancelled(sink);
                return Err(e.into());
            }
            let runs = runs_between(&videos[a], &videos[b], pair_seeds, opts);
            if !runs.is_empty() {
                pairs.push((a, b, runs));
            }
        }
        let groups = group(&videos, pairs);
        tracker.advance(1, sink);
        tracker.finish(sink);
        Ok(DuplicatesReport {
            groups,
            videos: videos.len(),
            fingerprinted,
            skipped,
        })
    }

    /// Decodes `video` (one frame per second, small) to make its fingerprints, and stores them.
    #[cfg(feature = "media")]
    fn fingerprint_now(&self, video: &Video, cancel: &CancelToken) -> Result<Vec<f32>> {
        let opts = vclip_media::SampleOptions {
            size: 64,
            ..vclip_media::SampleOptions::default()
        };
        let fail = |e: vclip_media::MediaError| EngineError::NotReady {
            video: video.path.clone(),
            reason: format!("cannot be fingerprinted: {}", e.kind),
        };
        let sampler = vclip_media::FrameSampler::open(std::path::Path::new(&video.path), opts)
            .map_err(fail)?;
        let mut fingerprints = Vec::new();
        for frame in sampler {
            cancel.check()?;
            let frame = frame.map_err(fail)?;
            fingerprints.push(crate::fingerprint::of_rgb(&frame.rgb).unwrap_or([0; CELLS]));
        }
        crate::fingerprint::store(&self.library(), &video.hash, &fingerprints)?;
        Ok(fingerprints
            .iter()
            .flatten()
            .map(|&g| f32::from(g))
            .collect())
    }

    #[cfg(not(feature = "media"))]
    fn fingerprint_now(&self, video: &Video, _: &CancelToken) -> Result<Vec<f32>> {
        Err(EngineError::NotReady {
            video: video.path.clone(),
            reason: "has no fingerprints and this build cannot decode videos".to_owned(),
        })
    }
}

impl Seconds {
    /// Rows of raw fingerprints (`CELLS` gray levels each), normalised.
    fn of_fingerprints(id: i64, path: String, raw: &[f32]) -> Self {
        let mut rows = Vec::with_capacity(raw.len());
        for r in raw.chunks_exact(CELLS) {
            match normalised(r) {
                Some(n) => rows.extend(n),
                None => rows.extend(std::iter::repeat_n(0.0, CELLS)),
            }
        }
        Seconds {
            id,
            path,
            dim: CELLS,
            rows,
        }
    }

    /// Whether second `i` is a flat frame (nothing to compare).
    fn is_flat(&self, i: usize) -> bool {
        self.row(i).iter().all(|&x| x == 0.0)
    }
}

/// Candidate second pairs of two different videos, by video pair `(a, b)` with `a < b`: `(i, j)`
/// with second `i` of `a` and second `j` of `b` at least `similarity` alike.
fn seeds(videos: &[Seconds], similarity: f32) -> HashMap<(usize, usize), Vec<(usize, usize)>> {
    let mut out: HashMap<(usize, usize), Vec<(usize, usize)>> = HashMap::new();
    let Some(dim) = videos.first().map(|s| s.dim) else {
        return out;
    };
    // ±1 hyperplanes (a sign random projection keeps SimHash's collision law closely enough).
    let mut rng = SplitMix64::new(HYPERPLANE_SEED);
    let planes: Vec<Vec<f32>> = (0..BANDS * BITS)
        .map(|_| {
            (0..dim)
                .map(|_| if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 })
                .collect()
        })
        .collect();
    let mut seen: HashSet<(usize, usize, usize, usize)> = HashSet::new();
    for band in 0..BANDS {
        let mut buckets: HashMap<u32, Vec<(usize, usize)>> = HashMap::new();
        for (v, s) in videos.iter().enumerate() {
            for i in 0..s.len() {
                if s.is_flat(i) {
                    continue;
                }
                let row = s.row(i);
                let mut key = 0u32;
                for b in 0..BITS {
                    if dot(row, &planes[band * BITS + b]) >= 0.0 {
                        key |= 1 << b;
                    }
                }
                buckets.entry(key).or_default().push((v, i));
            }
        }
        for bucket in buckets.values() {
            if bucket.len() < 2 || bucket.len() > MAX_BUCKET {
                continue;
            }
            for (x, &(va, i)) in bucket.iter().enumerate() {
                for &(vb, j) in &bucket[x + 1..] {
                    if va == vb {
                        continue;
                    }
                    let (a, i, b, j) = if va < vb {
                        (va, i, vb, j)
                    } else {
                        (vb, j, va, i)
                    };
                    if !seen.insert((a, i, b, j)) {
                        continue;
                    }
                    if dot(videos[a].row(i), videos[b].row(j)) >= similarity {
                        out.entry((a, b)).or_default().push((i, j));
                    }
                }
            }
        }
    }
    out
}

/// The shared runs of `a` and `b` grown from `seeds`, the longest that do not overlap.
fn runs_between(
    a: &Seconds,
    b: &Seconds,
    seeds: &[(usize, usize)],
    opts: &DuplicateOptions,
) -> Vec<Run> {
    let mut found: Vec<Run> = Vec::new();
    let mut covered: HashSet<(usize, usize)> = HashSet::new();
    let mut seeds = seeds.to_vec();
    seeds.sort_unstable();
    for &(i, j) in &seeds {
        if covered.contains(&(i, j)) {
            continue;
        }
        let run = extend(a, b, i, j, opts.similarity);
        for k in 0..run.len {
            covered.insert((run.i + k, run.j + k));
        }
        if run.len >= opts.min_run_s
            && run.similarity >= opts.similarity
            && changes(a, run.i, run.len)
        {
            found.push(run);
        }
    }
    found.sort_by(|x, y| {
        y.len
            .cmp(&x.len)
            .then(y.similarity.total_cmp(&x.similarity))
    });
    let mut kept: Vec<Run> = Vec::new();
    for r in found {
        let apart = |k: &Run| {
            (r.i + r.len <= k.i || k.i + k.len <= r.i) && (r.j + r.len <= k.j || k.j + k.len <= r.j)
        };
        if kept.iter().all(apart) {
            kept.push(r);
        }
    }
    kept.sort_by_key(|r| r.i);
    kept
}

/// The run through seconds `i` of `a` and `j` of `b` along their diagonal: it continues while
/// seconds are at least `similarity` alike, bridging one weaker second between two alike ones.
fn extend(a: &Seconds, b: &Seconds, i: usize, j: usize, similarity: f32) -> Run {
    let sim = |x: usize, y: usize| dot(a.row(x), b.row(y));
    let alike = |x: usize, y: usize| x < a.len() && y < b.len() && sim(x, y) >= similarity;
    // Backwards from the seed.
    let (mut s, mut t) = (i, j);
    loop {
        if s >= 1 && t >= 1 && alike(s - 1, t - 1) {
            (s, t) = (s - 1, t - 1);
        } else if s >= 2 && t >= 2 && alike(s - 2, t - 2) {
            (s, t) = (s - 2, t - 2);
        } else {
            break;
        }
    }
    // Forwards: `e` is one past the last alike second.
    let mut e = i + 1;
    loop {
        let u = e + j - i;
        if alike(e, u) {
            e += 1;
        } else if alike(e + 1, u + 1) {
            e += 2;
        } else {
            break;
        }
    }
    let len = e - s;
    let total: f32 = (0..len).map(|k| sim(s + k, t + k)).sum();
    Run {
        i: s,
        j: t,
        len,
        similarity: total / len as f32,
    }
}

/// Whether seconds `[i, i + len)` of `s` are footage that changes (not one still picture).
fn changes(s: &Seconds, i: usize, len: usize) -> bool {
    (i + 1..i + len).any(|k| dot(s.row(i), s.row(k)) <= MAX_STILL_SIMILARITY)
}

/// Videos joined by runs, as groups (union–find), the largest first.
fn group(videos: &[Seconds], pairs: Vec<(usize, usize, Vec<Run>)>) -> Vec<DuplicateGroup> {
    let mut parent: Vec<usize> = (0..videos.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for &(a, b, _) in &pairs {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut by_root: HashMap<usize, DuplicateGroup> = HashMap::new();
    let span = |v: &Seconds, start: usize, len: usize| FootageSpan {
        video_id: v.id,
        path: v.path.clone(),
        start_s: start as f64,
        end_s: (start + len) as f64,
    };
    for (a, b, runs) in pairs {
        let r = root(&mut parent, a);
        let g = by_root.entry(r).or_insert_with(|| DuplicateGroup {
            videos: Vec::new(),
            shared: Vec::new(),
        });
        for v in [a, b] {
            let entry = (videos[v].id, videos[v].path.clone());
            if !g.videos.contains(&entry) {
                g.videos.push(entry);
            }
        }
        // The video of the lower id on the left.
        let (first, second, flip) = if videos[a].id <= videos[b].id {
            (&videos[a], &videos[b], false)
        } else {
            (&videos[b], &videos[a], true)
        };
        for run in runs {
            let (i, j) = if flip { (run.j, run.i) } else { (run.i, run.j) };
            g.shared.push(SharedFootage {
                a: span(first, i, run.len),
                b: span(second, j, run.len),
                similarity: f64::from(run.similarity),
            });
        }
    }
    let mut groups: Vec<DuplicateGroup> = by_root.into_values().collect();
    for g in &mut groups {
        g.videos.sort();
        g.shared.sort_by(|x, y| {
            (x.a.video_id, x.b.video_id)
                .cmp(&(y.a.video_id, y.b.video_id))
                .then(x.a.start_s.total_cmp(&y.a.start_s))
        });
    }
    groups.sort_by(|x, y| {
        y.videos
            .len()
            .cmp(&x.videos.len())
            .then(x.videos.cmp(&y.videos))
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(rows: &[Vec<f32>]) -> Seconds {
        let dim = rows[0].len();
        Seconds {
            id: 1,
            path: "v.mp4".to_owned(),
            dim,
            rows: rows.concat(),
        }
    }

    fn basis(k: usize, dim: usize) -> Vec<f32> {
        let mut v = vec![0.0; dim];
        v[k % dim] = 1.0;
        v
    }

    #[test]
    fn a_run_follows_the_diagonal_and_bridges_one_weak_second() {
        // b is a's seconds 2..10 after two other seconds, with one damaged second.
        let a: Vec<Vec<f32>> = (0..12).map(|k| basis(k, 16)).collect();
        let mut b: Vec<Vec<f32>> = vec![basis(14, 16), basis(15, 16)];
        b.extend((2..10).map(|k| basis(k, 16)));
        b[5] = basis(13, 16);
        let (a, b) = (seconds(&a), seconds(&b));
        let run = extend(&a, &b, 6, 6, 0.8);
        assert_eq!((run.i, run.j, run.len), (2, 2, 8), "{run:?}");
        assert!((run.similarity - 7.0 / 8.0).abs() < 1e-6);
        let opts = DuplicateOptions {
            min_run_s: 5,
            similarity: 0.8,
            make_missing: false,
        };
        let runs = runs_between(&a, &b, &[(6, 6), (7, 7), (3, 3)], &opts);
        assert_eq!(runs.len(), 1, "{runs:?}");
        // A run whose mean is below the bar does not count.
        let strict = DuplicateOptions {
            similarity: 0.9,
            ..opts
        };
        assert!(runs_between(&a, &b, &[(6, 6)], &strict).is_empty());
    }

    #[test]
    fn a_still_picture_is_not_footage() {
        let still: Vec<Vec<f32>> = (0..10).map(|_| basis(3, 8)).collect();
        let s = seconds(&still);
        assert!(!changes(&s, 0, 10));
        let moving: Vec<Vec<f32>> = (0..10).map(|k| basis(k, 8)).collect();
        assert!(changes(&seconds(&moving), 0, 10));
    }
}
