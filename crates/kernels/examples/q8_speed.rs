//! Throughput of every 8-bit kernel this CPU runs on the dense layers of ViT-B/32's image tower
//! (16 frames of 50 tokens), against the scalar reference's numbers (checked equal) — a quick
//! look at one kernel in isolation; `vclip bench encode --kernels` measures the whole tower.
//! `cargo run --release -p vclip-kernels --example q8_speed [RUNS]`

use std::time::Instant;

use vclip_kernels::{PackedQ8, Q8Path};

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let m = 16 * 50;
    // qkv, out, fc1, fc2 of one ViT-B block.
    let layers = [(2304, 768), (768, 768), (3072, 768), (768, 3072)];
    let packed: Vec<(PackedQ8, Vec<f32>)> = layers
        .iter()
        .enumerate()
        .map(|(i, &(n, k))| {
            let w = values(n * k, i as u64 + 1);
            let p = PackedQ8::new(&w, &values(n, 9), n, k).expect("ViT widths fit");
            (p, values(m * k, i as u64 + 11))
        })
        .collect();
    let macs: usize = layers.iter().map(|(n, k)| m * n * k).sum();
    println!("{m} rows through one ViT-B block's 4 dense layers ({macs} MACs), median of {runs}");
    for path in Q8Path::supported() {
        let mut times = Vec::new();
        for _ in 0..runs + 1 {
            let start = Instant::now();
            for (p, x) in &packed {
                let mut out = vec![0f32; m * p.n()];
                p.matmul_with(path, x, &mut out);
                std::hint::black_box(&out);
            }
            times.push(start.elapsed().as_secs_f64());
        }
        times.remove(0);
        times.sort_by(f64::total_cmp);
        let t = times[times.len() / 2];
        println!(
            "{:<12} {:>8.2} ms  {:>7.1} GMAC/s",
            path.name(),
            t * 1e3,
            macs as f64 / t / 1e9
        );
    }
}
