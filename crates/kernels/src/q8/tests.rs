use super::*;

/// Deterministic values with a spread of magnitudes and both signs (and exact ties at .5 after
/// scaling in some blocks).
pub(super) fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            // Every 97th value is an outlier, as in real activations.
            if i % 97 == 0 {
                u * 40.0
            } else {
                u
            }
        })
        .collect()
}

/// The scheme written out: the quantized integers times their scales, summed in f64.
fn scheme(w: &[f32], bias: &[f32], x: &[f32], n: usize, k: usize) -> Vec<f32> {
    let wd: Vec<f32> = w
        .chunks_exact(WB)
        .flat_map(|b| {
            let (q, d) = quantize_q8_0(b);
            q.map(|q| f32::from(q) * d)
        })
        .collect();
    let (mut q, mut s) = (vec![0u8; x.len()], vec![0f32; x.len() / AB]);
    quantize_row_scalar(x, &mut q, &mut s);
    let xd: Vec<f32> = q
        .iter()
        .enumerate()
        .map(|(i, &q)| (i32::from(q) - 128) as f32 * s[i / AB])
        .collect();
    let m = x.len() / k;
    (0..m * n)
        .map(|i| {
            let (r, c) = (i / n, i % n);
            let dot: f64 = xd[r * k..(r + 1) * k]
                .iter()
                .zip(&wd[c * k..(c + 1) * k])
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            (dot + f64::from(bias[c])) as f32
        })
        .collect()
}

fn check(m: usize, n: usize, k: usize) {
    let w = values(n * k, 3 + n as u64);
    let bias = values(n, 4);
    let x = values(m * k, 5 + m as u64);
    let packed = PackedQ8::new(&w, &bias, n, k).expect("shape fits");
    let mut reference = vec![0f32; m * n];
    packed.matmul_reference(&x, &mut reference);
    let want = scheme(&w, &bias, &x, n, k);
    let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
    for (i, (a, b)) in reference.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 2e-6 * scale,
            "{m}x{n}x{k}: output {i}: {a} vs the scheme {b}"
        );
    }
    let paths = Q8Path::supported();
    for path in &paths {
        let mut got = vec![f32::NAN; m * n];
        packed.matmul_with(*path, &x, &mut got);
        assert!(
            got == reference,
            "{m}x{n}x{k}: the {path} kernel differs from the reference"
        );
    }
}

#[test]
fn every_kernel_matches_the_reference_on_every_row_remainder() {
    // One write, so the line reaches scripts/test-avx2.sh whole among the harness's output.
    let line = format!("8-bit kernels this CPU runs: {:?}\n", Q8Path::supported());
    std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes()).expect("stderr");
    // Rows: fewer than a tile, every remainder of 6 and of 4, more than one parallel chunk.
    for m in [1, 2, 3, 4, 5, 6, 7, 9, 11, 25, 50] {
        check(m, 64, 256);
    }
    check(34, 96, 768);
}

#[test]
fn every_quantization_matches_the_scalar_one() {
    let mut x = values(6 * AB, 2);
    // An all-zero block, a block whose largest value is negative, and exact halves.
    x[AB..2 * AB].fill(0.0);
    x[2 * AB + 5] = -100.0;
    for (i, v) in x[3 * AB..4 * AB].iter_mut().enumerate() {
        *v = (i as f32 - 128.0) * 0.5;
    }
    let (mut want_q, mut want_s) = (vec![0u8; x.len()], vec![0f32; 6]);
    quantize_row_scalar(&x, &mut want_q, &mut want_s);
    assert!(want_q[AB..2 * AB].iter().all(|&q| q == 128));
    for path in Q8Path::supported() {
        let (mut q, mut s) = (vec![0u8; x.len()], vec![0f32; 6]);
        quantize_row(path, &x, &mut q, &mut s);
        assert_eq!(q, want_q, "{path} quantization");
        assert_eq!(s, want_s, "{path} scales");
    }
}

#[test]
fn weights_quantize_to_q8_0() {
    let mut xs = values(32, 9);
    xs[3] = -50.0;
    let (q, d) = quantize_q8_0(&xs);
    assert_eq!(q[3], -127, "the largest magnitude maps to ±127");
    assert!(
        q.iter().all(|&v| v != i8::MIN),
        "never -128: |w| fits vpmaddubsw"
    );
    for (&q, &x) in q.iter().zip(&xs) {
        assert!((f32::from(q) * d - x).abs() <= d, "{q} * {d} vs {x}");
    }
    assert_eq!(quantize_q8_0(&[0.0; 32]), ([0; 32], 0.0));
}

#[test]
fn shapes_the_kernels_cannot_take_are_refused() {
    assert!(PackedQ8::new(&[0.0; 32 * 128], &[0.0; 32], 32, 128).is_none());
    assert!(PackedQ8::new(&[0.0; 16 * 256], &[0.0; 16], 16, 256).is_none());
    assert!(PackedQ8::new(&[0.0; 32 * 256], &[0.0; 31], 32, 256).is_none());
    assert!(PackedQ8::new(&[0.0; 32 * 256], &[0.0; 32], 32, 256).is_some());
}

#[test]
fn each_level_names_its_kernel() {
    assert_eq!(Q8Path::for_level(CpuLevel::Portable), None);
    for path in Q8Path::ALL {
        assert_eq!(Q8Path::for_level(path.level()), Some(path));
    }
    assert_eq!(Q8Path::for_level(CpuLevel::Avx512), Some(Q8Path::Avx2));
    for path in Q8Path::supported() {
        assert!(path.level().is_available());
    }
}
