//! Throughput of every 8-bit kernel this CPU runs on the dense layers of ViT-B/32's image tower
//! (16 frames of 50 tokens), and on x86-64 the f32 GEMM candle runs for the same products (the
//! `gemm` crate; its AVX2 + FMA kernel, as candle builds it) in the same run: the ratio an 8-bit
//! kernel can give a whole tower at most. `vclip bench encode --kernels` measures the tower.
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
    #[cfg(target_arch = "x86_64")]
    let f32_time = {
        let weights: Vec<Vec<f32>> = layers
            .iter()
            .enumerate()
            .map(|(i, &(n, k))| values(n * k, i as u64 + 1))
            .collect();
        let t = median(runs, || {
            for ((&(n, k), w), (_, x)) in layers.iter().zip(&weights).zip(&packed) {
                let mut out = vec![0f32; m * n];
                // SAFETY: `x` is m x k, `w` n x k (read as its transpose, k x n), `out` m x n,
                // all row-major and of those lengths.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        out.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        x.as_ptr(),
                        1,
                        k as isize,
                        w.as_ptr(),
                        k as isize,
                        1,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::Rayon(0),
                    );
                }
                std::hint::black_box(&out);
            }
        });
        report("f32 gemm", t, macs, None);
        Some(t)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let f32_time = None;
    for path in Q8Path::supported() {
        let t = median(runs, || {
            for (p, x) in &packed {
                let mut out = vec![0f32; m * p.n()];
                p.matmul_with(path, x, &mut out);
                std::hint::black_box(&out);
            }
        });
        report(path.name(), t, macs, f32_time);
    }
}

/// Median seconds of `runs` calls of `f`, after one warm-up call.
fn median(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times = Vec::new();
    for _ in 0..runs + 1 {
        let start = Instant::now();
        f();
        times.push(start.elapsed().as_secs_f64());
    }
    times.remove(0);
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn report(name: &str, t: f64, macs: usize, f32_time: Option<f64>) {
    let ratio = f32_time.map_or(String::new(), |f| format!("  {:>5.2}x f32", f / t));
    println!(
        "{name:<12} {:>8.2} ms  {:>7.1} GMAC/s{ratio}",
        t * 1e3,
        macs as f64 / t / 1e9
    );
}
