//! The vector index: usearch HNSW over window embeddings, inner-product metric, f32.
//!
//! Keys are `windows.id` from the catalogue (never reused, see `catalogue`). The index is
//! derived data: it is saved atomically (usearch writes a temp file in the same folder, we
//! fsync and rename it over the old one) and can always be rebuilt from the catalogue and the
//! cached features ([`VectorIndex::rebuild`]). Scores are inner products (usearch reports the
//! distance `1 - dot`; we turn it back), so for unit vectors a score is the cosine.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::atomic::{commit_temp, temp_path_for};
use crate::error::{Error, Result};

/// One hit: a key and its inner product with the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The window key.
    pub key: u64,
    /// Inner product with the query (higher is better).
    pub score: f32,
}

/// An HNSW index of fixed-size f32 vectors.
pub struct VectorIndex {
    index: Index,
    dims: usize,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("dims", &self.dims)
            .field("len", &self.index.size())
            .field("path", &self.path)
            .finish()
    }
}

fn options(dims: usize) -> IndexOptions {
    IndexOptions {
        dimensions: dims,
        metric: MetricKind::IP,
        quantization: ScalarKind::F32,
        // 0 lets usearch pick its defaults (connectivity 16, expansion 128 / 64).
        connectivity: 0,
        expansion_add: 0,
        expansion_search: 0,
        multi: false,
    }
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::Invalid(format!(
            "{} is not valid UTF-8 (the vector index needs a UTF-8 path)",
            path.display()
        ))
    })
}

impl VectorIndex {
    /// An empty in-memory index for `dims`-dimensional vectors.
    pub fn new(dims: usize) -> Result<Self> {
        if dims == 0 {
            return Err(Error::Invalid("vector size must be at least 1".into()));
        }
        let index = Index::new(&options(dims)).map_err(|e| Error::VectorIndex {
            path: PathBuf::from("<memory>"),
            reason: e.to_string(),
        })?;
        Ok(Self {
            index,
            dims,
            path: None,
        })
    }

    /// Builds a fresh index from `(key, vector)` pairs (e.g. after a model change).
    pub fn rebuild<'a>(
        dims: usize,
        items: impl IntoIterator<Item = (u64, &'a [f32])>,
    ) -> Result<Self> {
        let mut idx = Self::new(dims)?;
        for (key, v) in items {
            idx.add(key, v)?;
        }
        Ok(idx)
    }

    /// Loads an index file fully into memory (writable).
    pub fn load(path: &Path) -> Result<Self> {
        Self::restore(path, false)
    }

    /// Memory-maps an index file read-only (searches only; `add`/`remove` fail).
    pub fn view(path: &Path) -> Result<Self> {
        Self::restore(path, true)
    }

    fn restore(path: &Path, view: bool) -> Result<Self> {
        let p = utf8(path)?;
        if let Err(e) = std::fs::metadata(path) {
            return Err(Error::io(path, e));
        }
        let r = if view {
            Index::restore_view(p)
        } else {
            Index::restore(p)
        };
        let index = r.map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("usearch could not read it: {e}"),
        })?;
        if index.metric_kind() != MetricKind::IP || index.scalar_kind() != ScalarKind::F32 {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                reason: "not an inner-product f32 index".into(),
            });
        }
        let dims = index.dimensions();
        Ok(Self {
            index,
            dims,
            path: Some(path.to_path_buf()),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::VectorIndex {
            path: self
                .path
                .clone()
                .unwrap_or_else(|| PathBuf::from("<memory>")),
            reason: e.to_string(),
        }
    }

    /// Vector size.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// Whether the index holds no vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: u64) -> bool {
        self.index.contains(key)
    }

    fn check(&self, v: &[f32]) -> Result<()> {
        if v.len() != self.dims {
            return Err(Error::Invalid(format!(
                "vector has {} values, the index holds {}-d vectors",
                v.len(),
                self.dims
            )));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(Error::Invalid("vector contains NaN or infinity".into()));
        }
        Ok(())
    }

    /// Adds (or replaces) the vector of `key`.
    pub fn add(&mut self, key: u64, v: &[f32]) -> Result<()> {
        self.check(v)?;
        if self.index.contains(key) {
            self.index.remove(key).map_err(|e| self.err(e))?;
        }
        // usearch does not grow by itself: reserve in doublings.
        let size = self.index.size();
        if size + 1 > self.index.capacity() {
            let want = (size + 1).max(1024).max(self.index.capacity() * 2);
            self.index.reserve(want).map_err(|e| self.err(e))?;
        }
        self.index.add(key, v).map_err(|e| self.err(e))
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&mut self, key: u64) -> Result<bool> {
        let n = self.index.remove(key).map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// The `k` approximate nearest neighbours of `query`, best first.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.check(query)?;
        let m = self.index.search(query, k).map_err(|e| self.err(e))?;
        Ok(hits(m))
    }

    /// The `k` exact nearest neighbours (brute force), best first.
    pub fn exact_search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.check(query)?;
        let m = self.index.exact_search(query, k).map_err(|e| self.err(e))?;
        Ok(hits(m))
    }

    /// Sets the search beam (`ef`); larger is slower and more accurate.
    pub fn set_expansion_search(&self, ef: usize) {
        self.index.change_expansion_search(ef);
    }

    /// Saves to `path` atomically: readers see the old file or the new one, never a mix.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let tmp = temp_path_for(path)?;
        let t = utf8(&tmp)?;
        if let Err(e) = self.index.save(t) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::VectorIndex {
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
        }
        let synced = File::open(&tmp).and_then(|f| f.sync_all());
        if let Err(e) = synced {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&tmp, e));
        }
        commit_temp(&tmp, path)?;
        self.path = Some(path.to_path_buf());
        Ok(())
    }
}

fn hits(m: usearch::ffi::Matches) -> Vec<Hit> {
    m.keys
        .into_iter()
        .zip(m.distances)
        .map(|(key, d)| Hit {
            key,
            score: 1.0 - d,
        })
        .collect()
}

/// Settings of [`bench_search`].
#[derive(Debug, Clone)]
pub struct SearchBenchOptions {
    /// Vectors in the index (default 1,000,000).
    pub n: usize,
    /// Vector size (default 768).
    pub dims: usize,
    /// Queries timed and checked against brute force (default 100).
    pub queries: usize,
    /// Neighbours per query (default 10).
    pub k: usize,
    /// HNSW search beam; `None` keeps usearch's default.
    pub expansion_search: Option<usize>,
    /// RNG seed, so runs are comparable.
    pub seed: u64,
}

impl Default for SearchBenchOptions {
    fn default() -> Self {
        Self {
            n: 1_000_000,
            dims: 768,
            queries: 100,
            k: 10,
            expansion_search: None,
            seed: 42,
        }
    }
}

/// What [`bench_search`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchBench {
    /// Vectors indexed.
    pub n: usize,
    /// Vector size.
    pub dims: usize,
    /// Queries run.
    pub queries: usize,
    /// Neighbours per query.
    pub k: usize,
    /// Seconds to build the index (single thread).
    pub build_s: f64,
    /// Mean fraction of the exact top-k that HNSW returned.
    pub recall_at_k: f64,
    /// Median HNSW query latency, milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile HNSW query latency, milliseconds.
    pub p99_ms: f64,
    /// Median exact (brute-force) query latency, milliseconds, for comparison.
    pub exact_p50_ms: f64,
}

fn random_unit(rng: &mut StdRng, dims: usize, out: &mut Vec<f32>) {
    let start = out.len();
    // Gaussian components (Box-Muller) give directions uniform on the sphere.
    for _ in 0..dims {
        let u1: f32 = rng.random_range(f32::EPSILON..1.0);
        let u2: f32 = rng.random();
        out.push((-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos());
    }
    let v = &mut out[start..];
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Builds an HNSW index of `n` random unit vectors and measures recall@k against exact
/// search and the latency of single queries. Queries are fresh random unit vectors, the
/// hardest case for HNSW (no cluster structure); real embeddings cluster and do better.
/// Memory: `n * dims * 4` bytes for the vectors, about twice that with the graph.
pub fn bench_search(opts: &SearchBenchOptions) -> Result<SearchBench> {
    if opts.n == 0 || opts.queries == 0 || opts.k == 0 {
        return Err(Error::Invalid("n, queries and k must be at least 1".into()));
    }
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut data = Vec::with_capacity(opts.n * opts.dims);
    for _ in 0..opts.n {
        random_unit(&mut rng, opts.dims, &mut data);
    }
    let t = Instant::now();
    let mut idx = VectorIndex::new(opts.dims)?;
    idx.index.reserve(opts.n).map_err(|e| idx.err(e))?;
    for (i, v) in data.chunks_exact(opts.dims).enumerate() {
        idx.add(i as u64, v)?;
    }
    let build_s = t.elapsed().as_secs_f64();
    if let Some(ef) = opts.expansion_search {
        idx.set_expansion_search(ef);
    }
    let mut queries = Vec::with_capacity(opts.queries * opts.dims);
    for _ in 0..opts.queries {
        random_unit(&mut rng, opts.dims, &mut queries);
    }
    let k = opts.k.min(opts.n);
    let (mut lat, mut exact_lat, mut found) = (Vec::new(), Vec::new(), 0usize);
    for q in queries.chunks_exact(opts.dims) {
        let t = Instant::now();
        let approx = idx.search(q, k)?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let exact = brute_force(&data, opts.dims, q, k);
        exact_lat.push(t.elapsed().as_secs_f64() * 1e3);
        found += approx.iter().filter(|h| exact.contains(&h.key)).count();
    }
    lat.sort_by(f64::total_cmp);
    exact_lat.sort_by(f64::total_cmp);
    Ok(SearchBench {
        n: opts.n,
        dims: opts.dims,
        queries: opts.queries,
        k,
        build_s,
        recall_at_k: found as f64 / (k * opts.queries) as f64,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        exact_p50_ms: percentile(&exact_lat, 0.5),
    })
}

/// Exact top-k keys by inner product (independent of usearch, to judge it).
fn brute_force(data: &[f32], dims: usize, q: &[f32], k: usize) -> Vec<u64> {
    let mut scored: Vec<(f32, u64)> = data
        .chunks_exact(dims)
        .enumerate()
        .map(|(i, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum(), i as u64))
        .collect();
    let k = k.min(scored.len());
    if k == 0 {
        return Vec::new();
    }
    scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
    scored[..k].iter().map(|&(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors(n: usize, dims: usize) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut out = Vec::new();
        for _ in 0..n {
            random_unit(&mut rng, dims, &mut out);
        }
        out
    }

    #[test]
    fn add_search_remove() {
        let data = vectors(200, 32);
        let mut idx = VectorIndex::new(32).unwrap();
        for (i, v) in data.chunks_exact(32).enumerate() {
            idx.add(i as u64 + 1, v).unwrap();
        }
        assert_eq!(idx.len(), 200);
        let q = &data[32 * 17..32 * 18];
        let hits = idx.search(q, 5).unwrap();
        assert_eq!(hits[0].key, 18);
        assert!((hits[0].score - 1.0).abs() < 1e-4, "{:?}", hits[0]);
        assert!(idx.remove(18).unwrap());
        assert!(!idx.remove(18).unwrap());
        assert!(!idx.contains(18));
        assert_ne!(idx.search(q, 5).unwrap()[0].key, 18);
        assert_eq!(idx.len(), 199);
        assert!(matches!(idx.add(1, &[0.0; 3]), Err(Error::Invalid(_))));
        assert!(matches!(idx.search(&[0.0; 3], 1), Err(Error::Invalid(_))));
        assert!(matches!(
            idx.add(1, &[f32::NAN; 32]),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn re_adding_a_key_replaces_its_vector() {
        let data = vectors(2, 8);
        let mut idx = VectorIndex::new(8).unwrap();
        idx.add(5, &data[..8]).unwrap();
        idx.add(5, &data[8..]).unwrap();
        assert_eq!(idx.len(), 1);
        let h = idx.search(&data[8..], 1).unwrap();
        assert!((h[0].score - 1.0).abs() < 1e-4);
    }

    #[test]
    fn save_load_view_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("windows.usearch");
        let data = vectors(50, 16);
        let mut idx = VectorIndex::rebuild(
            16,
            data.chunks_exact(16)
                .enumerate()
                .map(|(i, v)| (i as u64, v)),
        )
        .unwrap();
        idx.save(&p).unwrap();
        idx.remove(3).unwrap();
        idx.save(&p).unwrap(); // replaces the old file
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let loaded = VectorIndex::load(&p).unwrap();
        assert_eq!((loaded.len(), loaded.dims()), (49, 16));
        let viewed = VectorIndex::view(&p).unwrap();
        let q = &data[16 * 9..16 * 10];
        assert_eq!(viewed.search(q, 1).unwrap()[0].key, 9);
        assert_eq!(loaded.exact_search(q, 1).unwrap()[0].key, 9);
    }

    #[test]
    fn damaged_or_missing_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("windows.usearch");
        assert!(matches!(VectorIndex::load(&p), Err(Error::Io { .. })));
        std::fs::write(&p, b"not an index").unwrap();
        assert!(matches!(VectorIndex::load(&p), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn bench_runs_on_a_small_index() {
        // Correctness of the bench plumbing only; no timing is asserted in tests.
        let r = bench_search(&SearchBenchOptions {
            n: 500,
            dims: 16,
            queries: 10,
            k: 10,
            expansion_search: None,
            seed: 1,
        })
        .unwrap();
        assert_eq!((r.n, r.k, r.queries), (500, 10, 10));
        assert!(r.recall_at_k > 0.8, "{r:?}");
        assert!(r.p50_ms <= r.p99_ms);
    }
}
