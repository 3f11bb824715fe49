//! HNSW recall and latency on synthetic unit vectors (what `vclip bench search` will call).
//!
//! ```text
//! cargo run --release -p vclip-index --example bench_search -- [N] [DIMS] [QUERIES] [EF]
//! ```
//!
//! Defaults: 1,000,000 vectors of 768 dimensions, 100 queries, usearch's default beam.
//! Needs about `N * DIMS * 8` bytes of memory (6 GB at the defaults).

use vclip_index::{bench_search, SearchBenchOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).and_then(|s| s.parse::<usize>().ok());
    let mut opts = SearchBenchOptions::default();
    if let Some(n) = arg(0) {
        opts.n = n;
    }
    if let Some(d) = arg(1) {
        opts.dims = d;
    }
    if let Some(q) = arg(2) {
        opts.queries = q;
    }
    opts.expansion_search = arg(3);
    match bench_search(&opts) {
        Ok(r) => println!(
            "n={} dims={} queries={} k={} build={:.1}s recall@{}={:.3} p50={:.3}ms p99={:.3}ms exact_p50={:.1}ms",
            r.n, r.dims, r.queries, r.k, r.build_s, r.k, r.recall_at_k, r.p50_ms, r.p99_ms, r.exact_p50_ms
        ),
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
    }
}
