//! Pure ranking pieces of search: refining a window hit into a moment, and fusing the ranked
//! lists of several signals (visual, subtitle, name) into one list of moments.
//!
//! - **Moment refinement** follows how VideoCLIP scores DiDeMo moments (docs/model-notes.md §5.2): a
//!   candidate span's vector is the mean of its per-second token states, its score the dot
//!   product with the query. Every contiguous span whose length is within `[min_len, max_len]`
//!   is a candidate (DiDeMo's 21 candidates are the spans of six 5-second chunks; seconds are
//!   finer). The mean of dot products equals the dot product with the mean, so spans are scored
//!   from per-second similarities with prefix sums in O(n · (max_len − min_len)).
//! - **Fusion** is reciprocal-rank fusion (Cormack et al., 2009) on the per-second axis: hits of
//!   different signals that overlap in time in the same video are one moment; its score is
//!   Σ w/(k + rank) over the signals that found it (w = 1 for plain RRF; search weights a
//!   subtitle hit by how many of the query's words it contains), and its span the union.

use serde::Serialize;

/// A moment inside one video, in whole seconds `[start_s, end_s)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moment {
    pub start_s: usize,
    pub end_s: usize,
    pub score: f32,
}

/// The dot product of two vectors (VideoCLIP's similarity: raw, not cosine).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The best span of per-second token states `states` (seconds `offset..offset+len`) for the
/// query vector `query`. `None` when there are fewer than `min_len` seconds (then the caller
/// keeps the whole window) or when `min_len` is 0.
pub fn refine_moment(
    states: &[Vec<f32>],
    query: &[f32],
    offset: usize,
    min_len: usize,
    max_len: usize,
) -> Option<Moment> {
    if min_len == 0 || states.len() < min_len {
        return None;
    }
    let sims: Vec<f32> = states.iter().map(|s| dot(s, query)).collect();
    let mut prefix = vec![0f64; sims.len() + 1];
    for (i, s) in sims.iter().enumerate() {
        prefix[i + 1] = prefix[i] + f64::from(*s);
    }
    let mut best: Option<Moment> = None;
    for len in min_len..=max_len.min(sims.len()) {
        for start in 0..=sims.len() - len {
            let score = ((prefix[start + len] - prefix[start]) / len as f64) as f32;
            // Strictly better, or as good and longer: prefer the longer of equal spans.
            let better = best
                .as_ref()
                .is_none_or(|b| score > b.score || (score == b.score && len > b.end_s - b.start_s));
            if better {
                best = Some(Moment {
                    start_s: offset + start,
                    end_s: offset + start + len,
                    score,
                });
            }
        }
    }
    best
}

/// A ranked hit of one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<V> {
    pub video: V,
    pub start_s: f64,
    pub end_s: f64,
    /// Multiplies the hit's reciprocal rank (weighted RRF); 1.0 for plain RRF.
    pub weight: f64,
}

/// A fused moment: the union span of the hits it merges, its RRF score, and which signals
/// (indices into the lists given to [`fuse`]) found it, with each signal's best rank (0-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Fused<V> {
    pub video: V,
    pub start_s: f64,
    pub end_s: f64,
    pub score: f64,
    pub signals: Vec<(usize, usize)>,
}

/// The usual RRF constant.
pub const RRF_K: f64 = 60.0;

/// Fuses ranked lists (best first), one per signal. Hits of the same video whose spans overlap
/// (or touch within `join_gap_s` seconds) become one moment. Result: best fused score first;
/// ties keep the order of first appearance.
pub fn fuse<V: PartialEq + Clone>(lists: &[Vec<Hit<V>>], k: f64, join_gap_s: f64) -> Vec<Fused<V>> {
    let mut out: Vec<Fused<V>> = Vec::new();
    for (signal, list) in lists.iter().enumerate() {
        for (rank, hit) in list.iter().enumerate() {
            let contribution = hit.weight / (k + rank as f64 + 1.0);
            let existing = out.iter_mut().find(|f| {
                f.video == hit.video
                    && hit.start_s <= f.end_s + join_gap_s
                    && f.start_s <= hit.end_s + join_gap_s
            });
            match existing {
                Some(f) => {
                    f.start_s = f.start_s.min(hit.start_s);
                    f.end_s = f.end_s.max(hit.end_s);
                    // A signal counts once per moment, at its best rank.
                    if !f.signals.iter().any(|(s, _)| *s == signal) {
                        f.score += contribution;
                        f.signals.push((signal, rank));
                    }
                }
                None => out.push(Fused {
                    video: hit.video.clone(),
                    start_s: hit.start_s,
                    end_s: hit.end_s,
                    score: contribution,
                    signals: vec![(signal, rank)],
                }),
            }
        }
    }
    // Stable sort: equal scores keep first-appearance order.
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(sims: &[f32]) -> Vec<Vec<f32>> {
        // One-dimensional states with the query [1.0]: the similarity is the state itself.
        sims.iter().map(|&s| vec![s]).collect()
    }

    #[test]
    fn picks_the_span_with_the_best_mean() {
        let s = states(&[0.0, 0.1, 0.9, 1.0, 0.8, 0.1, 0.0, 0.0]);
        let m = refine_moment(&s, &[1.0], 100, 3, 8).expect("a moment");
        assert_eq!((m.start_s, m.end_s), (102, 105));
        assert!((m.score - 0.9).abs() < 1e-6);
    }

    #[test]
    fn equal_means_prefer_the_longer_span() {
        let s = states(&[0.0, 0.5, 0.5, 0.5, 0.5, 0.0]);
        let m = refine_moment(&s, &[1.0], 0, 2, 6).expect("a moment");
        assert_eq!((m.start_s, m.end_s), (1, 5));
    }

    #[test]
    fn too_short_or_zero_min_gives_none() {
        assert_eq!(refine_moment(&states(&[1.0]), &[1.0], 0, 2, 4), None);
        assert_eq!(refine_moment(&states(&[1.0, 2.0]), &[1.0], 0, 0, 4), None);
    }

    #[test]
    fn max_len_bounds_the_span() {
        let s = states(&[1.0; 10]);
        let m = refine_moment(&s, &[1.0], 0, 1, 4).expect("a moment");
        assert_eq!(m.end_s - m.start_s, 4);
    }

    fn hit(video: &'static str, a: f64, b: f64) -> Hit<&'static str> {
        Hit {
            video,
            start_s: a,
            end_s: b,
            weight: 1.0,
        }
    }

    #[test]
    fn overlapping_hits_of_two_signals_fuse_and_rise() {
        let visual = vec![hit("a", 0.0, 10.0), hit("b", 40.0, 50.0)];
        let subtitle = vec![hit("b", 45.0, 47.0), hit("c", 1.0, 2.0)];
        let fused = fuse(&[visual, subtitle], RRF_K, 0.0);
        assert_eq!(fused.len(), 3);
        // b was found by both signals: first, with the union of the spans.
        assert_eq!(fused[0].video, "b");
        assert_eq!((fused[0].start_s, fused[0].end_s), (40.0, 50.0));
        assert_eq!(fused[0].signals, vec![(0, 1), (1, 0)]);
        let expected = 1.0 / 62.0 + 1.0 / 61.0;
        assert!((fused[0].score - expected).abs() < 1e-12);
        // a (visual rank 0) and c (subtitle rank 1): a first.
        assert_eq!(fused[1].video, "a");
        assert_eq!(fused[2].video, "c");
    }

    #[test]
    fn distant_hits_in_one_video_stay_apart_and_a_signal_counts_once() {
        let visual = vec![
            hit("a", 0.0, 5.0),
            hit("a", 100.0, 110.0),
            hit("a", 3.0, 8.0),
        ];
        let fused = fuse(&[visual], RRF_K, 1.0);
        assert_eq!(fused.len(), 2);
        assert_eq!((fused[0].start_s, fused[0].end_s), (0.0, 8.0));
        assert_eq!(fused[0].signals, vec![(0, 0)]);
        assert!((fused[0].score - 1.0 / 61.0).abs() < 1e-12);
    }
}
