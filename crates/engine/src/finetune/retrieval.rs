//! Retrieval-augmented batches (`docs/model-notes.md` §4.4; MMPT `retritask.py`, `vectorpool.py`):
//! at the start of every epoch each video gets one vector, and each batch is a cluster of
//! `k` videos drawn from the `2k` nearest to a random query video, so that the negatives in a
//! batch are hard ones (similar videos) instead of random ones.
//!
//! - A video's vector: `clips` text-aligned pairs (the "w/o overlap" sampler), each embedded as
//!   `(pooled video + pooled text) / 2`, averaged over the clips; not normalised. For CLIP the
//!   video side is the temporal tower and the text side the frozen text embedding.
//! - Nearest by L2 distance, as the paper's FAISS `IndexFlatL2`, found with usearch: the
//!   library's index only has the inner product, and L2 reduces to it exactly: with
//!   `x' = [x, -|x|²/2]` and `q' = [q, 1]`, `q'·x' = q·x - |x|²/2 = (|q|² - |q - x|²) / 2`, so
//!   the largest inner product is the smallest distance.
//! - `n / k` random query videos (distinct); for each, the query and its `2k` nearest
//!   neighbours (itself removed); when that is more than `k`, `k` of them at random (the query
//!   may be among those left out, as in MMPT's `random.sample`).
//! - A library of at most `k` videos is one batch (nothing to choose from).

use vclip_index::VectorIndex;

use super::rng::SplitMix64;
use super::sampler::{sample, Overlap, SamplerConfig};
use super::towers::Towers;
use super::train::{pairs_batch, shuffle, PairRef, VideoData};
use crate::store::{EngineError, Result};

fn err(context: &'static str) -> impl Fn(candle_core::Error) -> EngineError {
    move |e| EngineError::Model {
        context: context.to_owned(),
        source: e.into(),
    }
}

/// One vector per video: the mean over `clips` aligned pairs of `(video + text) / 2`.
pub(super) fn video_vectors(
    towers: &Towers<'_>,
    videos: &[VideoData],
    clips: usize,
    sampler: &SamplerConfig,
    rng: &mut SplitMix64,
) -> Result<Vec<Vec<f32>>> {
    let aligned = SamplerConfig {
        overlap: Overlap::Aligned,
        ..*sampler
    };
    let mut pairs: Vec<(usize, PairRef)> = Vec::new();
    for (vi, v) in videos.iter().enumerate() {
        let spans: Vec<_> = v.train.iter().map(|(s, _)| *s).collect();
        for _ in 0..clips.max(1) {
            if let Some(p) = sample(&spans, v.feats.rows, &aligned, rng) {
                pairs.push((vi, PairRef::new(vi, v, &p, towers.max_seconds())));
            }
        }
    }
    let mut sums = vec![vec![0f32; towers.embedding_dim()]; videos.len()];
    let mut counts = vec![0usize; videos.len()];
    for chunk in pairs.chunks(64) {
        let refs: Vec<&PairRef> = chunk.iter().map(|(_, p)| p).collect();
        let batch = pairs_batch(videos, &refs, towers)?;
        let v = towers.embed_video(&batch.feats, &batch.vmask)?.detach();
        let t = towers.embed_texts(&batch.texts)?.detach();
        let joint = ((v + t).map_err(err("video vectors"))? * 0.5)
            .and_then(|j| j.to_vec2::<f32>())
            .map_err(err("video vectors"))?;
        for ((vi, _), row) in chunk.iter().zip(joint) {
            for (s, x) in sums[*vi].iter_mut().zip(row) {
                *s += x;
            }
            counts[*vi] += 1;
        }
    }
    Ok(sums
        .into_iter()
        .zip(counts)
        .map(|(s, c)| s.into_iter().map(|x| x / c.max(1) as f32).collect())
        .collect())
}

/// The epoch's batches: clusters of up to `k` videos around `n / k` random query videos.
pub(super) fn clusters(
    vectors: &[Vec<f32>],
    k: usize,
    rng: &mut SplitMix64,
) -> Result<Vec<Vec<usize>>> {
    let n = vectors.len();
    let k = k.max(1);
    if n <= k {
        let mut all: Vec<usize> = (0..n).collect();
        shuffle(&mut all, rng);
        return Ok(vec![all]);
    }
    let index = l2_index(vectors)?;
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, rng);
    let mut batches = Vec::with_capacity(n / k);
    for &q in order.iter().take(n / k) {
        let mut cands = vec![q];
        cands.extend(nearest(&index, vectors, q, 2 * k)?);
        if cands.len() > k {
            shuffle(&mut cands, rng);
            cands.truncate(k);
        }
        batches.push(cands);
    }
    Ok(batches)
}

/// A usearch index whose inner product orders by L2 distance: row `i` is `[x_i, -|x_i|²/2]`.
fn l2_index(vectors: &[Vec<f32>]) -> Result<VectorIndex> {
    let dim = vectors.first().map_or(0, Vec::len);
    let lifted: Vec<Vec<f32>> = vectors
        .iter()
        .map(|x| {
            let sq: f32 = x.iter().map(|v| v * v).sum();
            let mut y = x.clone();
            y.push(-0.5 * sq);
            y
        })
        .collect();
    Ok(VectorIndex::rebuild(
        dim + 1,
        lifted
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u64, v.as_slice())),
    )?)
}

/// The `m` videos nearest to video `q` by L2 distance, itself left out, nearest first.
fn nearest(index: &VectorIndex, vectors: &[Vec<f32>], q: usize, m: usize) -> Result<Vec<usize>> {
    let mut query = vectors[q].clone();
    query.push(1.0);
    Ok(index
        .exact_search(&query, m + 1)?
        .iter()
        .map(|h| h.key as usize)
        .filter(|&i| i != q)
        .take(m)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two well separated groups: every cluster stays inside its query's group, and the
    /// clusters have `k` members.
    #[test]
    fn clusters_are_made_of_near_neighbours() -> Result<()> {
        let mut rng = SplitMix64::new(7);
        let mut vectors = Vec::new();
        for i in 0..40 {
            let group = if i < 20 { 10.0 } else { -10.0 };
            vectors.push(vec![
                group + rng.next_f64() as f32,
                rng.next_f64() as f32,
                // Large norms on one side: an inner-product search would get this wrong.
                if i % 2 == 0 { 5.0 } else { -5.0 },
            ]);
        }
        let batches = clusters(&vectors, 4, &mut rng)?;
        assert_eq!(batches.len(), 10);
        for b in &batches {
            assert_eq!(b.len(), 4);
            let side = b[0] < 20;
            assert!(b.iter().all(|&i| (i < 20) == side), "{b:?}");
            let mut uniq = b.clone();
            uniq.sort_unstable();
            uniq.dedup();
            assert_eq!(uniq.len(), 4, "{b:?}");
        }
        Ok(())
    }

    /// The L2 reduction: the nearest by distance, not by inner product (which would pick
    /// the long vector 3 for query 0).
    #[test]
    fn nearest_is_by_distance() -> Result<()> {
        let vectors = vec![
            vec![1.0f32, 0.0],
            vec![1.1, 0.1],
            vec![-3.0, 4.0],
            vec![50.0, 0.0],
            vec![0.9, -0.25],
        ];
        let index = l2_index(&vectors)?;
        assert_eq!(nearest(&index, &vectors, 0, 2)?, [1, 4]);
        assert_eq!(nearest(&index, &vectors, 0, 4)?, [1, 4, 2, 3]);
        assert_eq!(nearest(&index, &vectors, 3, 1)?, [1]);
        Ok(())
    }
}
