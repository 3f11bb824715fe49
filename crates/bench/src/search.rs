//! `vclip bench search`: HNSW recall and latency against exact search on synthetic vectors
//! ([`SyntheticData`]), at several beams on the same index, optionally after the text tower of
//! a model ([`run`]).
//!
//! The index is vclip-index's [`VectorIndex`], driven only through its public API; the exact
//! answers come from a brute-force scan of our own, independent of usearch.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vclip_index::vectors::{distance_kernels, Hit, HnswParams, VectorIndex};
use vclip_index::{Error, Result};

/// Worker threads for parallel work: all cores.
fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The synthetic vectors of [`bench_search`] and [`run`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SyntheticData {
    /// Independent directions uniform on the sphere; queries likewise. The worst case for
    /// HNSW: no structure at all, every point about as far from a query as every other
    /// (the distances concentrate), and the full `dims` intrinsic dimensions.
    Random,
    /// A model of real window embeddings; see [`ClusterSpec`].
    Clustered(ClusterSpec),
}

impl SyntheticData {
    /// Short name (`random`, `clustered`).
    pub fn name(&self) -> &'static str {
        match self {
            SyntheticData::Random => "random",
            SyntheticData::Clustered(_) => "clustered",
        }
    }
}

/// How [`SyntheticData::Clustered`] draws its vectors.
///
/// With `s_i = (i + 1)^(-decay / 2)` for dimension `i` (a power-law spectrum: variance
/// `~ 1 / (i + 1)` at `decay = 1`), and `noise()` a Gaussian vector with standard deviation
/// `s_i` in dimension `i`, scaled to unit length:
///
/// - `centres` centres `c_j = noise()` (unit vectors);
/// - data point `x = normalize(c_j + spread * noise())` for a centre `j` drawn uniformly;
/// - query `q = normalize(x_r + query_noise * noise())` for a data point `r` drawn uniformly
///   (the query is near, not on, a data point, and `x_r` itself stays in the index).
///
/// Why this is closer to real window embeddings than uniform random vectors: a video gives
/// hundreds of overlapping windows (32 s windows, 16 s stride) whose embeddings are close to
/// each other, and a library holds a few thousand such groups (the centres); CLIP-style
/// embeddings have a decaying spectrum (their intrinsic dimension is tens, not 768 — at
/// `decay = 1` the participation ratio of 768 dims is about 32); and a search is made for
/// something that is in the library, so the query lands near some windows rather than in an
/// empty direction. The spectrum is axis-aligned; HNSW and exact search with inner product
/// are rotation-invariant, so a random rotation would change nothing but the cost.
/// `decay = 0` gives isotropic clusters in all 768 dimensions (harder).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterSpec {
    /// Number of centres; 0: one per 250 vectors (4,000 at 1M, about an hour of video each
    /// at the 16 s stride).
    pub centres: usize,
    /// Length of the noise added to a centre (0.6: a point has cosine ~0.86 with its centre,
    /// ~0.74 with another point of the same centre).
    pub spread: f32,
    /// Length of the noise added to a data point to make a query (0.5: cosine ~0.89).
    pub query_noise: f32,
    /// Exponent of the spectrum (variance of dimension `i` ~ `(i + 1)^-decay`).
    pub decay: f32,
}

impl ClusterSpec {
    /// The number of centres drawn for `n` vectors ([`centres`](Self::centres), or one per
    /// 250 vectors when that is 0).
    pub fn centres_for(&self, n: usize) -> usize {
        if self.centres == 0 {
            (n / 250).max(1)
        } else {
            self.centres
        }
    }
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            centres: 0,
            spread: 0.6,
            query_noise: 0.5,
            decay: 1.0,
        }
    }
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
    /// HNSW search beam; `None` keeps the index's default (`params.expansion_search`).
    pub expansion_search: Option<usize>,
    /// RNG seed, so runs are comparable.
    pub seed: u64,
    /// HNSW settings of the index built (default [`HnswParams::default`]).
    pub params: HnswParams,
    /// More search beams measured on the same index, after `expansion_search`.
    pub ef_sweep: Vec<usize>,
    /// The vectors and queries.
    pub data: SyntheticData,
    /// Threads inserting into the index (0: all cores). Searches are single-threaded.
    pub threads: usize,
    /// Queries timed for the exact (brute-force, one thread) baseline (default 20).
    pub exact_queries: usize,
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
            params: HnswParams::default(),
            ef_sweep: Vec::new(),
            data: SyntheticData::Random,
            threads: 0,
            exact_queries: 20,
        }
    }
}

/// Recall and latency at one search beam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EfResult {
    /// The search beam.
    pub ef: usize,
    /// Mean fraction of the exact top-k that HNSW returned.
    pub recall_at_k: f64,
    /// Median query latency, milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile query latency, milliseconds.
    pub p99_ms: f64,
    /// Mean query latency, milliseconds.
    pub mean_ms: f64,
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
    /// Seconds to build the index (on `threads` threads).
    pub build_s: f64,
    /// Mean fraction of the exact top-k that HNSW returned (first beam measured).
    pub recall_at_k: f64,
    /// Median HNSW query latency, milliseconds (first beam measured).
    pub p50_ms: f64,
    /// 99th-percentile HNSW query latency, milliseconds (first beam measured).
    pub p99_ms: f64,
    /// Median exact (brute-force, one thread) query latency, milliseconds, for comparison.
    pub exact_p50_ms: f64,
    /// 99th-percentile exact query latency, milliseconds.
    pub exact_p99_ms: f64,
    /// Threads that built the index.
    pub threads: usize,
    /// HNSW settings the index was built with.
    pub params: HnswParams,
    /// Every beam measured, in order (the first is the one reported above).
    pub rows: Vec<EfResult>,
}

/// A built benchmark index with its data, queries and exact answers, to measure several
/// beams on, or to time other work (the text tower) per query alongside the search.
#[derive(Debug)]
pub struct SearchBenchRun {
    opts: SearchBenchOptions,
    index: VectorIndex,
    data: Vec<f32>,
    queries: Vec<f32>,
    warmup: Vec<f32>,
    truth: Vec<Vec<u64>>,
    /// Seconds to generate the vectors.
    pub generate_s: f64,
    /// Seconds to build the index.
    pub build_s: f64,
    /// Seconds to compute the exact answers (blocked brute force on all cores).
    pub truth_s: f64,
    /// Threads that built the index.
    pub threads: usize,
    /// Mean cosine of a query with its nearest data point.
    pub mean_cos_first: f64,
    /// Mean cosine of a query with its k-th nearest data point.
    pub mean_cos_kth: f64,
    /// Mean cosine of a query with a data point drawn at random.
    pub mean_cos_random: f64,
}

/// Queries timed before measuring (not counted; different vectors from the timed ones).
const WARMUP_QUERIES: usize = 10;

impl SearchBenchRun {
    /// Generates the data, builds the index on all cores (`log` hears about progress) and
    /// computes the exact top-k of every query.
    pub fn prepare(opts: &SearchBenchOptions, log: &(dyn Fn(&str) + Sync)) -> Result<Self> {
        if opts.n == 0 || opts.queries == 0 || opts.k == 0 || opts.dims == 0 {
            return Err(Error::Invalid(
                "n, dims, queries and k must be at least 1".into(),
            ));
        }
        if let SyntheticData::Clustered(c) = opts.data {
            let ok = |x: f32| x.is_finite() && x >= 0.0;
            if !(ok(c.spread) && ok(c.query_noise) && ok(c.decay)) {
                return Err(Error::Invalid(
                    "spread, query noise and decay must be finite and >= 0".into(),
                ));
            }
        }
        let threads = if opts.threads == 0 {
            all_cores()
        } else {
            opts.threads
        };
        let t = Instant::now();
        let gen = Generator::new(opts);
        let data = gen.data(opts.n, threads);
        let generate_s = t.elapsed().as_secs_f64();
        log(&format!(
            "generated {} {} {}-d vectors in {generate_s:.1} s",
            opts.n,
            opts.data.name(),
            opts.dims
        ));

        let t = Instant::now();
        let mut index = VectorIndex::with_params(opts.dims, opts.params)?;
        let keys: Vec<u64> = (0..opts.n as u64).collect();
        let step = (opts.n / 20).max(1);
        let last = AtomicUsize::new(0);
        index.add_many_with_progress(&keys, &data, threads, &|d| {
            let tick = d / step;
            if last.fetch_max(tick, Ordering::Relaxed) < tick {
                log(&format!(
                    "  built {d} / {} ({:.0} s)",
                    opts.n,
                    t.elapsed().as_secs_f64()
                ));
            }
        })?;
        let build_s = t.elapsed().as_secs_f64();
        drop(keys);
        log(&format!(
            "built the index ({}, {threads} threads) in {build_s:.1} s",
            describe(&opts.params)
        ));

        let mut run = Self {
            opts: opts.clone(),
            index,
            data,
            queries: Vec::new(),
            warmup: Vec::new(),
            truth: Vec::new(),
            generate_s,
            build_s,
            truth_s: 0.0,
            threads,
            mean_cos_first: 0.0,
            mean_cos_kth: 0.0,
            mean_cos_random: 0.0,
        };
        run.make_queries(&gen);
        log(&format!(
            "exact top-{} of {} queries in {:.1} s",
            run.k(),
            opts.queries,
            run.truth_s
        ));
        Ok(run)
    }

    /// Draws new queries for clustered data at another distance from the data points
    /// (`query_noise`), with their exact answers, to measure the same index on them.
    pub fn requery(&mut self, query_noise: f32) -> Result<()> {
        let SyntheticData::Clustered(c) = self.opts.data else {
            return Err(Error::Invalid(
                "only clustered data has a query noise".into(),
            ));
        };
        if !(query_noise.is_finite() && query_noise >= 0.0) {
            return Err(Error::Invalid("query noise must be finite and >= 0".into()));
        }
        self.opts.data = SyntheticData::Clustered(ClusterSpec { query_noise, ..c });
        let gen = Generator::new(&self.opts);
        self.make_queries(&gen);
        Ok(())
    }

    /// The data's generator settings (after [`requery`](Self::requery), its query noise).
    pub fn data(&self) -> SyntheticData {
        self.opts.data
    }

    fn make_queries(&mut self, gen: &Generator) {
        let (dims, n) = (self.opts.dims, self.opts.n);
        self.queries = gen.queries(&self.data, self.opts.queries, 1);
        self.warmup = gen.queries(&self.data, WARMUP_QUERIES, 2);
        let t = Instant::now();
        let q: Vec<&[f32]> = self.queries.chunks_exact(dims).collect();
        let tops = exact_top_k(&self.data, dims, &q, self.k(), self.threads);
        self.truth_s = t.elapsed().as_secs_f64();
        let (mut first, mut kth) = (0.0, 0.0);
        for t in &tops {
            first += t.first().map_or(0.0, |x| f64::from(x.0));
            kth += t.last().map_or(0.0, |x| f64::from(x.0));
        }
        self.mean_cos_first = first / tops.len().max(1) as f64;
        self.mean_cos_kth = kth / tops.len().max(1) as f64;
        let mut rng = StdRng::seed_from_u64(self.opts.seed ^ 0x5eed);
        let mut random_cos = 0.0;
        for qv in &q {
            let r = rng.random_range(0..n);
            random_cos += f64::from(dot(qv, &self.data[r * dims..(r + 1) * dims]));
        }
        self.mean_cos_random = random_cos / q.len().max(1) as f64;
        self.truth = tops
            .into_iter()
            .map(|t| t.into_iter().map(|(_, key)| key).collect())
            .collect();
    }

    /// The index (to search it directly).
    pub fn index(&self) -> &VectorIndex {
        &self.index
    }

    /// Number of timed queries.
    pub fn queries(&self) -> usize {
        self.opts.queries
    }

    /// Neighbours per query.
    pub fn k(&self) -> usize {
        self.opts.k.min(self.opts.n)
    }

    /// Query `i` (`0..queries()`).
    pub fn query(&self, i: usize) -> &[f32] {
        &self.queries[i * self.opts.dims..(i + 1) * self.opts.dims]
    }

    /// Fraction of the exact top-k of query `i` found in `hits`.
    pub fn recall_of(&self, i: usize, hits: &[Hit]) -> f64 {
        let truth = &self.truth[i];
        let found = hits.iter().filter(|h| truth.contains(&h.key)).count();
        found as f64 / truth.len().max(1) as f64
    }

    /// Sets the beam, warms up, then runs every query once: recall and latency.
    pub fn measure(&self, ef: usize) -> Result<EfResult> {
        self.index.set_expansion_search(ef);
        let k = self.k();
        for w in self.warmup.chunks_exact(self.opts.dims) {
            std::hint::black_box(self.index.search(w, k)?);
        }
        let mut lat = Vec::with_capacity(self.queries());
        let mut recall = 0.0;
        for i in 0..self.queries() {
            let t = Instant::now();
            let hits = self.index.search(self.query(i), k)?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            recall += self.recall_of(i, &hits);
        }
        let s = Stats::of(lat);
        Ok(EfResult {
            ef,
            recall_at_k: recall / self.queries() as f64,
            p50_ms: s.p50,
            p99_ms: s.p99,
            mean_ms: s.mean,
        })
    }

    /// Latency of the exact search (one thread scanning every vector, the baseline an index
    /// must beat) over the first `count` queries.
    pub fn exact_latency(&self, count: usize) -> Result<Stats> {
        let count = count.clamp(1, self.queries());
        let mut lat = Vec::with_capacity(count);
        for i in 0..count {
            let t = Instant::now();
            let top = exact_top_k(&self.data, self.opts.dims, &[self.query(i)], self.k(), 1);
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(top);
        }
        Ok(Stats::of(lat))
    }
}

/// Latency summary, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Median.
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Mean.
    pub mean: f64,
    /// Largest.
    pub max: f64,
}

impl Stats {
    /// Summary of the samples `v`.
    pub fn of(mut v: Vec<f64>) -> Stats {
        v.sort_by(f64::total_cmp);
        Stats {
            p50: percentile(&v, 0.5),
            p99: percentile(&v, 0.99),
            mean: v.iter().sum::<f64>() / v.len().max(1) as f64,
            max: v.last().copied().unwrap_or(0.0),
        }
    }
}

fn describe(p: &HnswParams) -> String {
    format!("M {}, ef_construction {}", p.connectivity, p.expansion_add)
}

/// Builds an HNSW index of `n` synthetic vectors ([`SyntheticData`]) and measures recall@k
/// against exact search and the latency of single queries, at `expansion_search` and then at
/// every beam of `ef_sweep`. Memory: `n * dims * 4` bytes for our copy of the vectors, as
/// much again in the index plus its graph (`~8 * M` bytes per vector).
pub fn bench_search(opts: &SearchBenchOptions) -> Result<SearchBench> {
    let run = SearchBenchRun::prepare(opts, &|_| {})?;
    let rows = beams(opts)
        .iter()
        .map(|&ef| run.measure(ef))
        .collect::<Result<Vec<_>>>()?;
    let exact = run.exact_latency(opts.exact_queries)?;
    let first = rows[0];
    Ok(SearchBench {
        n: opts.n,
        dims: opts.dims,
        queries: opts.queries,
        k: run.k(),
        build_s: run.build_s,
        recall_at_k: first.recall_at_k,
        p50_ms: first.p50_ms,
        p99_ms: first.p99_ms,
        exact_p50_ms: exact.p50,
        exact_p99_ms: exact.p99,
        threads: run.threads,
        params: opts.params,
        rows,
    })
}

/// Draws the benchmark's vectors; deterministic in the seed whatever the thread count.
struct Generator {
    dims: usize,
    seed: u64,
    data: SyntheticData,
    /// Per-dimension standard deviations of the clustered noise.
    scale: Vec<f32>,
    centres: Vec<f32>,
}

/// Vectors drawn from one RNG stream (so threads can draw blocks independently).
const GEN_BLOCK: usize = 4096;

impl Generator {
    fn new(opts: &SearchBenchOptions) -> Self {
        let mut g = Generator {
            dims: opts.dims,
            seed: opts.seed,
            data: opts.data,
            scale: Vec::new(),
            centres: Vec::new(),
        };
        if let SyntheticData::Clustered(c) = opts.data {
            g.scale = (0..opts.dims)
                .map(|i| ((i + 1) as f32).powf(-c.decay / 2.0))
                .collect();
            let count = c.centres_for(opts.n);
            let mut rng = g.rng(u64::MAX, 0);
            let mut centres = Vec::with_capacity(count * opts.dims);
            for _ in 0..count {
                g.noise(&mut rng, &mut centres);
            }
            g.centres = centres;
        }
        g
    }

    fn rng(&self, stream: u64, block: u64) -> StdRng {
        let mix = |x: u64| {
            // SplitMix64 finaliser: distinct, well-spread seeds per (stream, block).
            let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        StdRng::seed_from_u64(mix(self.seed ^ mix(stream ^ mix(block))))
    }

    /// A unit vector of the clustered spectrum.
    fn noise(&self, rng: &mut StdRng, out: &mut Vec<f32>) {
        let start = out.len();
        gaussians(rng, self.dims, out);
        for (x, s) in out[start..].iter_mut().zip(&self.scale) {
            *x *= s;
        }
        normalize(&mut out[start..]);
    }

    /// `normalize(base + len * noise())` appended to `out`.
    fn around(&self, rng: &mut StdRng, base: &[f32], len: f32, out: &mut Vec<f32>) {
        let start = out.len();
        self.noise(rng, out);
        for (x, b) in out[start..].iter_mut().zip(base) {
            *x = b + len * *x;
        }
        normalize(&mut out[start..]);
    }

    fn block(&self, b: usize, rows: usize) -> Vec<f32> {
        let mut rng = self.rng(0, b as u64);
        let mut out = Vec::with_capacity(rows * self.dims);
        for _ in 0..rows {
            match self.data {
                SyntheticData::Random => random_unit(&mut rng, self.dims, &mut out),
                SyntheticData::Clustered(c) => {
                    let count = self.centres.len() / self.dims;
                    let j = rng.random_range(0..count);
                    let centre = &self.centres[j * self.dims..(j + 1) * self.dims];
                    self.around(&mut rng, centre, c.spread, &mut out);
                }
            }
        }
        out
    }

    fn data(&self, n: usize, threads: usize) -> Vec<f32> {
        let blocks = n.div_ceil(GEN_BLOCK);
        let rows = |b: usize| GEN_BLOCK.min(n - b * GEN_BLOCK);
        let next = AtomicUsize::new(0);
        let parts: Mutex<Vec<(usize, Vec<f32>)>> = Mutex::new(Vec::with_capacity(blocks));
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= blocks {
                        break;
                    }
                    let v = self.block(b, rows(b));
                    if let Ok(mut p) = parts.lock() {
                        p.push((b, v));
                    }
                });
            }
        });
        let mut parts = parts.into_inner().unwrap_or_default();
        parts.sort_by_key(|p| p.0);
        let mut data = Vec::with_capacity(n * self.dims);
        for (_, v) in parts {
            data.extend_from_slice(&v);
        }
        data
    }

    /// `count` queries from stream `stream` (1: timed, 2: warm-up).
    fn queries(&self, data: &[f32], count: usize, stream: u64) -> Vec<f32> {
        let mut rng = self.rng(stream, 0);
        let n = data.len() / self.dims;
        let mut out = Vec::with_capacity(count * self.dims);
        for _ in 0..count {
            match self.data {
                SyntheticData::Random => random_unit(&mut rng, self.dims, &mut out),
                SyntheticData::Clustered(c) => {
                    let r = rng.random_range(0..n);
                    let x = &data[r * self.dims..(r + 1) * self.dims];
                    self.around(&mut rng, x, c.query_noise, &mut out);
                }
            }
        }
        out
    }
}

/// `dims` standard Gaussians (Box-Muller).
fn gaussians(rng: &mut StdRng, dims: usize, out: &mut Vec<f32>) {
    for _ in 0..dims {
        let u1: f32 = rng.random_range(f32::EPSILON..1.0);
        let u2: f32 = rng.random();
        out.push((-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos());
    }
}

fn normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
}

fn random_unit(rng: &mut StdRng, dims: usize, out: &mut Vec<f32>) {
    let start = out.len();
    // Gaussian components give directions uniform on the sphere.
    gaussians(rng, dims, out);
    normalize(&mut out[start..]);
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Inner product, in 16 independent lanes so that it vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((a, x), y) in acc.iter_mut().zip(x).zip(y) {
            *a += x * y;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The best `k` (score, key) of a stream.
struct TopK {
    k: usize,
    items: Vec<(f32, u64)>,
    min: usize,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            items: Vec::with_capacity(k),
            min: 0,
        }
    }

    fn floor(&self) -> f32 {
        if self.items.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.items[self.min].0
        }
    }

    fn push(&mut self, score: f32, key: u64) {
        if self.items.len() < self.k {
            self.items.push((score, key));
        } else if score > self.items[self.min].0 {
            self.items[self.min] = (score, key);
        } else {
            return;
        }
        if self.items.len() == self.k {
            self.min = (0..self.k)
                .min_by(|&a, &b| self.items[a].0.total_cmp(&self.items[b].0))
                .unwrap_or(0);
        }
    }
}

/// Exact top-`k` (score, key) of every query by inner product, best first, keys being row
/// numbers; independent of usearch, to judge it. The rows are split among `threads`, and
/// each thread runs all queries over a few hundred rows at a time, so the data is read from
/// memory once whatever the number of queries.
fn exact_top_k(
    data: &[f32],
    dims: usize,
    queries: &[&[f32]],
    k: usize,
    threads: usize,
) -> Vec<Vec<(f32, u64)>> {
    const ROWS: usize = 128;
    let n = data.len() / dims;
    let threads = threads.clamp(1, n.max(1));
    let per = n.div_ceil(threads);
    let parts: Vec<Vec<TopK>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut tops: Vec<TopK> = queries.iter().map(|_| TopK::new(k)).collect();
                    let (lo, hi) = ((t * per).min(n), ((t + 1) * per).min(n));
                    let mut row = lo;
                    while row < hi {
                        let end = (row + ROWS).min(hi);
                        for (q, top) in queries.iter().zip(tops.iter_mut()) {
                            let mut floor = top.floor();
                            for r in row..end {
                                let s = dot(q, &data[r * dims..(r + 1) * dims]);
                                if s > floor {
                                    top.push(s, r as u64);
                                    floor = top.floor();
                                }
                            }
                        }
                        row = end;
                    }
                    tops
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    (0..queries.len())
        .map(|qi| {
            let mut all: Vec<(f32, u64)> = parts
                .iter()
                .flat_map(|p| p.get(qi).map(|t| t.items.clone()).unwrap_or_default())
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            all.truncate(k);
            all
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// `vclip bench search`: the index at every beam, on every query set, after the text tower.
// ---------------------------------------------------------------------------------------------

/// What `vclip bench search` measures besides [`SearchBenchOptions`].
#[derive(Debug, Clone, Default)]
pub struct SearchPlan {
    /// The index, its data and the first query set. The beams measured are
    /// `expansion_search` (else the index default) then `ef_sweep`.
    pub opts: SearchBenchOptions,
    /// Clustered data: further query noises; the same index is measured on a fresh query set
    /// at each, in turn.
    pub more_query_noise: Vec<f32>,
    /// A model whose text tower is timed per query (CPU), alone and followed by the search.
    pub model: Option<PathBuf>,
    /// Without `model`: the text tower of a random-weight model of this preset (`full` or
    /// `tiny`), made in a temporary folder (speed does not depend on weights).
    pub preset: Option<String>,
}

/// What [`run`] measured.
#[derive(Debug, Clone)]
pub struct SearchReport {
    /// Neighbours per query (`k`, at most the number of vectors).
    pub k: usize,
    /// Threads that built the index.
    pub threads: usize,
    /// Seconds to generate the vectors, build the index and compute the exact answers of the
    /// first query set.
    pub generate_s: f64,
    pub build_s: f64,
    pub truth_s: f64,
    /// usearch's distance kernels ([`distance_kernels`]).
    pub distance_kernels: String,
    /// Every query set measured at every beam (the first is the one reported).
    pub sets: Vec<QuerySet>,
    /// The exact-search baseline (one thread scanning every vector) on the first query set.
    pub exact: Stats,
    /// The model whose text tower was timed.
    pub model: Option<PathBuf>,
    /// The text tower with f32 weights, then with q8 dense layers (empty without a model).
    pub text: Vec<TextTiming>,
    /// How closely the q8 text tower follows the f32 one.
    pub agreement: Option<Agreement>,
}

impl SearchReport {
    /// The first beam on the first query set: the result reported.
    pub fn first(&self) -> EfResult {
        self.sets[0].rows[0]
    }
}

/// The beams [`SearchBenchRun::measure`] runs for `opts`, in order and without repeats:
/// `expansion_search` (else the index default), then `ef_sweep`.
pub fn beams(opts: &SearchBenchOptions) -> Vec<usize> {
    let mut efs = vec![opts
        .expansion_search
        .unwrap_or(opts.params.expansion_search)];
    for &ef in &opts.ef_sweep {
        if !efs.contains(&ef) {
            efs.push(ef);
        }
    }
    efs
}

/// Runs `vclip bench search`: builds the index, measures every beam, times the text tower
/// of the model (if any) per query followed by the search, then measures the same index on
/// the other query sets. `log` hears about progress.
pub fn run(plan: &SearchPlan, log: &(dyn Fn(&str) + Sync)) -> anyhow::Result<SearchReport> {
    let opts = &plan.opts;
    let efs = beams(opts);

    // The model first: a bad --model fails before a long build.
    let tmp;
    let model_dir = match (&plan.model, &plan.preset) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(p)) => {
            let preset: vclip_model::Preset = p.parse()?;
            tmp = tempfile::tempdir().context("temporary folder for the random model")?;
            log(&format!("writing a random-weight {p} model…"));
            vclip_model::init_random(preset, 0, tmp.path(), None)?;
            Some(tmp.path().to_path_buf())
        }
        (None, None) => None,
    };
    let mut model = match &model_dir {
        Some(d) => Some(vclip_model::VClipModel::load(d, &vclip_model::Device::Cpu)?),
        None => None,
    };

    let kernels = distance_kernels();
    log(&format!(
        "building an HNSW index of {} {} {}-d vectors (distance kernels: {kernels})…",
        opts.n,
        opts.data.name(),
        opts.dims,
    ));
    let mut run = SearchBenchRun::prepare(opts, log)?;
    let mut sets = vec![measure_set(&run, &efs, log)?];
    let exact = run.exact_latency(opts.exact_queries)?;

    // Text tower, then the search, per query, as `vclip search` does (the engine also copies
    // the embedding to a Vec). The search uses the benchmark's query vector (a random model's
    // embedding is not in the synthetic data's space), at the first beam. Timed with the f32
    // weights, then again after converting the dense layers to q8 (what search uses on a CPU).
    let mut text: Vec<TextTiming> = Vec::new();
    let mut agreement = None;
    if let Some(model) = model.as_mut() {
        let texts = query_texts(&model.tokenizer, run.queries(), opts.seed)?;
        run.index().set_expansion_search(efs[0]);
        let (f32_timing, exact_vecs) = time_text(model, &texts, &run)?;
        text.push(f32_timing);
        model.text.set_precision(vclip_model::Precision::Q8)?;
        let (q8_timing, q8_vecs) = time_text(model, &texts, &run)?;
        text.push(q8_timing);
        agreement = Some(Agreement::of(&exact_vecs, &q8_vecs, run.k()));
    }

    // The same index on queries at other distances from the data.
    for &noise in &plan.more_query_noise {
        run.requery(noise)?;
        log(&format!("queries with noise {noise}:"));
        sets.push(measure_set(&run, &efs, log)?);
    }

    Ok(SearchReport {
        k: run.k(),
        threads: run.threads,
        generate_s: run.generate_s,
        build_s: run.build_s,
        truth_s: run.truth_s,
        distance_kernels: kernels,
        sets,
        exact,
        model: model_dir,
        text,
        agreement,
    })
}

/// Words of the synthetic search queries (with a real bert-base vocabulary).
const QUERY_WORDS: [&str; 64] = [
    "how",
    "to",
    "cut",
    "an",
    "onion",
    "the",
    "dog",
    "jumps",
    "into",
    "lake",
    "adding",
    "salt",
    "boiling",
    "water",
    "before",
    "pasta",
    "someone",
    "plays",
    "guitar",
    "on",
    "a",
    "stage",
    "change",
    "bicycle",
    "tire",
    "kids",
    "opening",
    "presents",
    "christmas",
    "morning",
    "whisk",
    "eggs",
    "until",
    "fluffy",
    "sunset",
    "over",
    "sea",
    "man",
    "woman",
    "talking",
    "about",
    "city",
    "night",
    "car",
    "driving",
    "rain",
    "snow",
    "mountain",
    "cooking",
    "kitchen",
    "birthday",
    "cake",
    "beach",
    "football",
    "goal",
    "crowd",
    "cheering",
    "cat",
    "sleeping",
    "sofa",
    "red",
    "old",
    "train",
    "station",
];

/// `count` search queries of 3–12 words. With a real vocabulary they are English words; with
/// the synthetic vocabulary of a random model (which spells English words letter by letter,
/// 4-5x too many tokens) they are its whole-word tokens, a quarter of them with a suffix that
/// makes them two pieces, about as many tokens per word as English in bert-base WordPiece.
fn query_texts(
    tok: &vclip_model::Tokenizer,
    count: usize,
    seed: u64,
) -> anyhow::Result<Vec<String>> {
    let synthetic = tok.encode("kitchen")?.len() > 2;
    let mut state = seed ^ 0x7e57_7e57;
    let mut next = move |m: usize| {
        // SplitMix64: deterministic, no extra dependency.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % m as u64) as usize
    };
    // The synthetic vocabulary's whole words are `tok0`..`tokN` (after 256 specials/letters).
    let whole_words = tok.vocab_size().saturating_sub(300).max(1);
    Ok((0..count)
        .map(|_| {
            let words = 3 + next(10);
            (0..words)
                .map(|_| {
                    if synthetic {
                        let mut w = format!("tok{}", next(whole_words));
                        if next(4) == 0 {
                            w.push((b'a' + next(26) as u8) as char);
                        }
                        w
                    } else {
                        QUERY_WORDS[next(QUERY_WORDS.len())].to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect())
}

/// One set of queries measured at every beam.
#[derive(Debug, Clone)]
pub struct QuerySet {
    /// The query noise of clustered data (`None` for random data).
    pub query_noise: Option<f32>,
    /// Mean cosine of a query with its nearest, its k-th nearest and a random data point.
    pub cos_first: f64,
    pub cos_kth: f64,
    pub cos_random: f64,
    /// Every beam, in order.
    pub rows: Vec<EfResult>,
}

fn measure_set(
    run: &SearchBenchRun,
    efs: &[usize],
    log: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<QuerySet> {
    let mut rows = Vec::new();
    for &ef in efs {
        let r = run.measure(ef)?;
        log(&format!(
            "ef {:>5}: recall@{} {:.4}, p50 {:.3} ms, p99 {:.3} ms",
            r.ef,
            run.k(),
            r.recall_at_k,
            r.p50_ms,
            r.p99_ms
        ));
        rows.push(r);
    }
    Ok(QuerySet {
        query_noise: match run.data() {
            SyntheticData::Random => None,
            SyntheticData::Clustered(c) => Some(c.query_noise),
        },
        cos_first: run.mean_cos_first,
        cos_kth: run.mean_cos_kth,
        cos_random: run.mean_cos_random,
        rows,
    })
}

/// Per-query latency of the text tower, of the search after it, and of both.
#[derive(Debug, Clone)]
pub struct TextTiming {
    /// The text tower's dense layers.
    pub precision: vclip_model::Precision,
    pub text: Stats,
    pub hnsw: Stats,
    pub total: Stats,
    /// Tokens per query, `[CLS]` and `[SEP]` included.
    pub mean_tokens: f64,
    /// Recall@k of the searches (first beam).
    pub recall: f64,
    pub embedding_dims: usize,
    /// The first query.
    pub example: String,
    pub random_weights: bool,
}

/// Times `texts` one by one through the text tower, each followed by the search, and returns
/// the embeddings too.
fn time_text(
    model: &vclip_model::VClipModel,
    texts: &[String],
    run: &SearchBenchRun,
) -> anyhow::Result<(TextTiming, Vec<Vec<f32>>)> {
    let tokens: usize = texts
        .iter()
        .map(|t| model.tokenizer.encode(t).map(|ids| ids.len() + 2))
        .sum::<std::result::Result<usize, _>>()?;
    let embed = |t: &str| -> anyhow::Result<Vec<f32>> {
        let e = model.embed_texts(&[t])?;
        Ok(e.to_vec2::<f32>()?.into_iter().next().unwrap_or_default())
    };
    for t in texts.iter().take(3) {
        std::hint::black_box(embed(&format!("{t} warm up"))?);
    }
    let (mut t_text, mut t_hnsw, mut t_total) = (Vec::new(), Vec::new(), Vec::new());
    let mut recall = 0.0;
    let mut vecs = Vec::with_capacity(texts.len());
    for (i, t) in texts.iter().enumerate() {
        let t0 = Instant::now();
        let v = embed(t)?;
        let t1 = Instant::now();
        let hits = run.index().search(run.query(i), run.k())?;
        let t2 = Instant::now();
        vecs.push(std::hint::black_box(v));
        recall += run.recall_of(i, &hits);
        t_text.push((t1 - t0).as_secs_f64() * 1e3);
        t_hnsw.push((t2 - t1).as_secs_f64() * 1e3);
        t_total.push((t2 - t0).as_secs_f64() * 1e3);
    }
    let n = texts.len().max(1) as f64;
    let timing = TextTiming {
        precision: model.text.precision(),
        text: Stats::of(t_text),
        hnsw: Stats::of(t_hnsw),
        total: Stats::of(t_total),
        mean_tokens: tokens as f64 / n,
        recall: recall / n,
        embedding_dims: vecs.first().map_or(0, Vec::len),
        example: texts.first().cloned().unwrap_or_default(),
        random_weights: model.is_random(),
    };
    Ok((timing, vecs))
}

/// How closely the q8 text tower follows the f32 one on the same queries: the cosine of the
/// two embeddings, and how much of each query's top k among the *other* queries' f32
/// embeddings stays the same (a ranking the 8-bit weights could reorder).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    pub cos_mean: f64,
    pub cos_min: f64,
    pub topk_overlap: f64,
    pub k: usize,
}

impl Agreement {
    fn of(exact: &[Vec<f32>], q8: &[Vec<f32>], k: usize) -> Self {
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let cos = |a: &[f32], b: &[f32]| {
            f64::from(dot(a, b)) / (f64::from(dot(a, a)).sqrt() * f64::from(dot(b, b)).sqrt())
        };
        let top = |q: &[f32], skip: usize| -> Vec<usize> {
            let mut s: Vec<(usize, f32)> = exact
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != skip)
                .map(|(j, e)| (j, dot(q, e)))
                .collect();
            s.sort_by(|x, y| y.1.total_cmp(&x.1));
            s.into_iter().take(k).map(|(j, _)| j).collect()
        };
        let (mut cos_sum, mut cos_min, mut overlap) = (0.0, f64::INFINITY, 0.0);
        for (i, (e, q)) in exact.iter().zip(q8).enumerate() {
            let c = cos(e, q);
            cos_sum += c;
            cos_min = cos_min.min(c);
            let (te, tq) = (top(e, i), top(q, i));
            let same = tq.iter().filter(|j| te.contains(j)).count();
            overlap += same as f64 / te.len().max(1) as f64;
        }
        let n = exact.len().max(1) as f64;
        Self {
            cos_mean: cos_sum / n,
            cos_min,
            topk_overlap: overlap / n,
            k,
        }
    }
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
    fn exact_top_k_matches_a_plain_sort() {
        let (n, dims) = (1000, 24);
        let data = vectors(n, dims);
        let qs = vectors(5, dims + 1); // other vectors; cut to dims below
        let queries: Vec<&[f32]> = qs.chunks_exact(dims + 1).map(|q| &q[..dims]).collect();
        for threads in [1, 3] {
            let got = exact_top_k(&data, dims, &queries, 10, threads);
            for (q, top) in queries.iter().zip(&got) {
                let mut all: Vec<(f32, u64)> = data
                    .chunks_exact(dims)
                    .enumerate()
                    .map(|(i, v)| (v.iter().zip(*q).map(|(a, b)| a * b).sum(), i as u64))
                    .collect();
                all.sort_by(|a, b| b.0.total_cmp(&a.0));
                let want: Vec<u64> = all[..10].iter().map(|x| x.1).collect();
                let keys: Vec<u64> = top.iter().map(|x| x.1).collect();
                assert_eq!(keys, want);
            }
        }
    }

    #[test]
    fn synthetic_data_is_unit_length_deterministic_and_clustered() {
        let spec = ClusterSpec {
            centres: 4,
            ..ClusterSpec::default()
        };
        let opts = SearchBenchOptions {
            n: 5000,
            dims: 64,
            data: SyntheticData::Clustered(spec),
            ..SearchBenchOptions::default()
        };
        let g = Generator::new(&opts);
        let a = g.data(opts.n, 1);
        assert_eq!(a, g.data(opts.n, 3), "independent of the thread count");
        for v in a.chunks_exact(64) {
            let norm: f32 = v.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-4);
        }
        // Every point is near one of the 4 centres.
        for v in a.chunks_exact(64).take(200) {
            let best = g
                .centres
                .chunks_exact(64)
                .map(|c| dot(c, v))
                .fold(f32::MIN, f32::max);
            assert!(best > 0.6, "{best}");
        }
        let q = g.queries(&a, 10, 1);
        assert_eq!(q.len(), 640);
    }

    #[test]
    fn requery_measures_the_same_index_on_farther_queries() {
        let opts = SearchBenchOptions {
            n: 2000,
            dims: 32,
            queries: 20,
            data: SyntheticData::Clustered(ClusterSpec::default()),
            ..SearchBenchOptions::default()
        };
        let mut run = SearchBenchRun::prepare(&opts, &|_| {}).unwrap();
        let near = run.mean_cos_first;
        let q0 = run.query(0).to_vec();
        run.requery(1.5).unwrap();
        assert!(
            run.mean_cos_first < near,
            "{} vs {near}",
            run.mean_cos_first
        );
        assert_ne!(run.query(0), &q0[..]);
        assert!(matches!(run.data(), SyntheticData::Clustered(c) if c.query_noise == 1.5));
        assert_eq!(run.index().len(), 2000);
        assert!(run.measure(64).unwrap().recall_at_k > 0.5);
        let mut random = SearchBenchRun::prepare(
            &SearchBenchOptions {
                data: SyntheticData::Random,
                ..opts
            },
            &|_| {},
        )
        .unwrap();
        assert!(matches!(random.requery(1.0), Err(Error::Invalid(_))));
    }

    #[test]
    fn bench_runs_on_a_small_index() {
        // Correctness of the bench plumbing only; no timing is asserted in tests.
        for data in [
            SyntheticData::Random,
            SyntheticData::Clustered(ClusterSpec::default()),
        ] {
            let r = bench_search(&SearchBenchOptions {
                n: 500,
                dims: 16,
                queries: 10,
                k: 10,
                expansion_search: None,
                ef_sweep: vec![16, 64],
                data,
                exact_queries: 3,
                ..SearchBenchOptions::default()
            })
            .unwrap();
            assert_eq!((r.n, r.k, r.queries), (500, 10, 10));
            let efs: Vec<usize> = r.rows.iter().map(|x| x.ef).collect();
            assert_eq!(efs, [HnswParams::DEFAULT.expansion_search, 16, 64]);
            assert!(r.recall_at_k > 0.8, "{r:?}");
            assert!(r.p50_ms <= r.p99_ms);
            assert!(r.exact_p50_ms > 0.0);
        }
    }

    #[test]
    fn run_measures_every_beam_on_every_query_set() {
        let plan = SearchPlan {
            opts: SearchBenchOptions {
                n: 800,
                dims: 16,
                queries: 8,
                expansion_search: Some(32),
                ef_sweep: vec![16, 32, 64],
                data: SyntheticData::Clustered(ClusterSpec::default()),
                exact_queries: 2,
                ..SearchBenchOptions::default()
            },
            more_query_noise: vec![1.0],
            ..SearchPlan::default()
        };
        let lines = Mutex::new(Vec::new());
        let r = run(&plan, &|m| lines.lock().unwrap().push(m.to_owned())).unwrap();
        assert_eq!(beams(&plan.opts), [32, 16, 64]);
        assert_eq!(r.sets.len(), 2);
        for set in &r.sets {
            let efs: Vec<usize> = set.rows.iter().map(|x| x.ef).collect();
            assert_eq!(efs, [32, 16, 64]);
        }
        assert_eq!(r.sets[1].query_noise, Some(1.0));
        assert_eq!(r.first(), r.sets[0].rows[0]);
        assert!(r.text.is_empty() && r.agreement.is_none() && r.model.is_none());
        let lines = lines.into_inner().unwrap();
        assert!(lines[0].starts_with("building an HNSW index of 800 clustered 16-d"));
        assert!(
            lines.iter().any(|l| l == "queries with noise 1:"),
            "{lines:?}"
        );
        assert_eq!(ClusterSpec::default().centres_for(800), 3);
    }
}
