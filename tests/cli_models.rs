//! `vclip models import|pull|init-random`, `vclip encode`, `vclip bench encode` with fixture-size
//! models (random weights, named as such): the plumbing from files to numbers, not model quality
//! (that is proven by the parity tests in crates/model).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vclip_testkit::http::serve_folder;
use vclip_testkit::{lavfi, model_fixtures, testsrc};

use crate::cli_library::numbers;

fn vclip<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(args: I) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vclip"))
        .args(args)
        .output()
        .expect("run vclip")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "vclip failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fixtures() -> PathBuf {
    model_fixtures()
}

fn encode_json(video: &Path, model: &Path) -> serde_json::Value {
    let out = vclip([
        "encode".as_ref(),
        video.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
        "--json".as_ref(),
    ]);
    serde_json::from_str(&ok(&out)).expect("JSON")
}

fn features(v: &serde_json::Value) -> Vec<Vec<f64>> {
    let rows = v["features"].as_array().expect("features");
    rows.iter().map(numbers).collect()
}

#[test]
fn init_random_then_encode_gives_unit_features_per_second_and_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("tiny model");
    ok(&vclip([
        "models".as_ref(),
        "init-random".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
        model.as_os_str(),
    ]));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).expect("config"))
            .expect("json");
    assert_eq!(cfg["random_weights"], true);

    let a = testsrc(dir.path(), "a.mp4", "320x240", "25", 2.5);
    let out = vclip([
        "encode".as_ref(),
        a.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
        "--json".as_ref(),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("random weights"),
        "the user is warned"
    );
    let ea: serde_json::Value = serde_json::from_str(&ok(&out)).expect("JSON");
    assert_eq!(ea["seconds"], 3, "ceil(2.5 s) clips");
    assert_eq!(ea["random_weights"], true);
    let fa = features(&ea);
    for row in &fa {
        let norm: f64 = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-4,
            "S3D features are L2-normalised: {norm}"
        );
    }
    let windows = ea["windows"].as_array().expect("windows");
    assert_eq!(windows.len(), 1);
    assert_eq!(
        (windows[0]["start_s"].as_u64(), windows[0]["end_s"].as_u64()),
        (Some(0), Some(3))
    );

    // Deterministic, and different content gives different features.
    assert_eq!(features(&encode_json(&a, &model)), fa);
    let b = lavfi(dir.path(), "b.mp4", "mandelbrot=size=320x240:rate=25", 2.5);
    assert_ne!(features(&encode_json(&b, &model))[0], fa[0]);
}

#[test]
fn import_reads_both_pytorch_formats_and_names_mismatches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = fixtures();
    let vocab = f.join("tiny/vocab.txt");
    let ckpt = f.join("pth/checkpoint_videoclip.pt");
    let video = testsrc(dir.path(), "v.mp4", "160x120", "30", 1.0);
    let mut results = Vec::new();
    for s3d in ["s3d_legacy.pth", "s3d_zip.pth"] {
        let out_dir = dir.path().join(s3d);
        let o = vclip([
            "models".as_ref(),
            "import".as_ref(),
            "--preset".as_ref(),
            "tiny".as_ref(),
            "--videoclip".as_ref(),
            ckpt.as_os_str(),
            "--s3d".as_ref(),
            f.join("pth").join(s3d).as_os_str(),
            "--vocab".as_ref(),
            vocab.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ]);
        ok(&o);
        let cfg = std::fs::read_to_string(out_dir.join("config.json")).expect("config");
        assert!(cfg.contains("\"random_weights\": false"), "{cfg}");
        results.push(features(&encode_json(&video, &out_dir)));
    }
    // The same weights in both file formats give the same numbers.
    assert_eq!(results[0], results[1]);

    // The tiny files are not the released architecture: a clear error, nothing written.
    let out_dir = dir.path().join("full");
    let o = vclip([
        "models".as_ref(),
        "import".as_ref(),
        "--videoclip".as_ref(),
        ckpt.as_os_str(),
        "--s3d".as_ref(),
        f.join("pth/s3d_legacy.pth").as_os_str(),
        "--vocab".as_ref(),
        vocab.as_os_str(),
        "--out".as_ref(),
        out_dir.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("s3d_legacy.pth") && err.contains("shape"),
        "{err}"
    );
    assert!(!out_dir.join("config.json").exists());
}

#[test]
fn pull_downloads_from_a_mirror_and_imports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let served = dir.path().join("www/models");
    std::fs::create_dir_all(&served).expect("mkdir");
    let f = fixtures();
    std::fs::copy(
        f.join("pth/checkpoint_videoclip.pt"),
        served.join("checkpoint_best.pt"),
    )
    .expect("copy");
    std::fs::copy(
        f.join("pth/s3d_legacy.pth"),
        served.join("s3d_howto100m.pth"),
    )
    .expect("copy");
    std::fs::copy(f.join("tiny/vocab.txt"), served.join("vocab.txt")).expect("copy");
    let server = serve_folder(&served);
    let out_dir = dir.path().join("models/videoclip");
    let o = vclip([
        "models".as_ref(),
        "pull".as_ref(),
        "--preset".as_ref(),
        "tiny".as_ref(),
        "--mirror".as_ref(),
        server.url.as_ref(),
        "--out".as_ref(),
        out_dir.as_os_str(),
    ]);
    ok(&o);
    assert!(out_dir.join("config.json").is_file());
    // The downloads are kept beside the model folder, complete (no .part left).
    let downloads = dir.path().join("models/downloads");
    assert_eq!(
        std::fs::read(downloads.join("s3d_howto100m.pth")).expect("downloaded"),
        std::fs::read(f.join("pth/s3d_legacy.pth")).expect("fixture")
    );
    assert!(!downloads.join("vocab.txt.part").exists());
    let video = testsrc(dir.path(), "v.mp4", "160x120", "30", 1.0);
    assert_eq!(encode_json(&video, &out_dir)["seconds"], 1);
}

fn config_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).expect("config"))
        .expect("json")
}

#[test]
fn init_random_writes_a_clip_model_with_the_family_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = |name: &str, seed: &str| {
        let d = dir.path().join(name);
        let o = vclip([
            "models".as_ref(),
            "init-random".as_ref(),
            "--family".as_ref(),
            "clip-vit-b32".as_ref(),
            "--preset".as_ref(),
            "tiny".as_ref(),
            "--seed".as_ref(),
            seed.as_ref(),
            d.as_os_str(),
        ]);
        assert_eq!(ok(&o).trim(), d.to_str().expect("utf-8"));
        assert!(String::from_utf8_lossy(&o.stderr).contains("random weights"));
        config_json(&d)
    };
    let a = model("a", "4");
    assert_eq!(a["family"], "clip-vit-b32");
    assert_eq!(a["random_weights"], true);
    assert_eq!(
        a["clip"]["vision"]["hidden_size"], 32,
        "the tiny preset: {a}"
    );
    let dir_a = dir.path().join("a");
    assert!(dir_a.join("model.safetensors").is_file() && dir_a.join("tokenizer.json").is_file());
    let m = vclip_model::ClipModel::load(&dir_a, &vclip_model::Device::Cpu).expect("loads");
    assert!(m.is_random());
    // Deterministic in the seed.
    assert_eq!(model("b", "4")["model_id"], a["model_id"]);
    assert_ne!(model("c", "5")["model_id"], a["model_id"]);

    // The default family is still VideoCLIP; a VideoCLIP-only flag is refused for CLIP.
    let v = dir.path().join("v");
    ok(&vclip([
        "models".as_ref(),
        "init-random".as_ref(),
        v.as_os_str(),
    ]));
    assert!(config_json(&v)
        .get("family")
        .is_none_or(|f| f == "videoclip"));
    let o = vclip([
        "models".as_ref(),
        "init-random".as_ref(),
        "--family".as_ref(),
        "clip-vit-b32".as_ref(),
        "--vocab".as_ref(),
        fixtures().join("tiny/vocab.txt").as_os_str(),
        dir.path().join("x").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--tokenizer"));
    assert!(!dir.path().join("x").exists());
}

#[test]
fn import_clip_reads_an_hf_folder_and_names_what_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let import = |src: &Path, out: &Path| {
        vclip([
            "models".as_ref(),
            "import".as_ref(),
            "--clip".as_ref(),
            src.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
    };
    let hf = fixtures().join("clip/hf");
    let out = dir.path().join("models/clip-vit-b32");
    let o = import(&hf, &out);
    assert_eq!(ok(&o).trim(), out.to_str().expect("utf-8"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("imported 78 CLIP tensors"));
    let cfg = config_json(&out);
    assert_eq!(
        (&cfg["family"], &cfg["random_weights"]),
        (&"clip-vit-b32".into(), &false.into())
    );
    vclip_model::ClipModel::load(&out, &vclip_model::Device::Cpu).expect("loads");

    // HF's main branch has pytorch_model.bin (no model.safetensors) and vocab.json +
    // merges.txt besides tokenizer.json: the same model comes out.
    let bin_only = dir.path().join("hf-bin");
    std::fs::create_dir_all(&bin_only).expect("mkdir");
    for n in ["config.json", "vocab.json", "merges.txt"] {
        std::fs::copy(hf.join(n), bin_only.join(n)).expect("copy");
    }
    std::fs::copy(
        fixtures().join("clip/bin/pytorch_model.bin"),
        bin_only.join("pytorch_model.bin"),
    )
    .expect("copy");
    let out_bin = dir.path().join("models/from-bin");
    ok(&import(&bin_only, &out_bin));
    assert_eq!(config_json(&out_bin)["model_id"], cfg["model_id"]);

    // No tokenizer: exit 1, the file named, nothing written.
    std::fs::remove_file(bin_only.join("vocab.json")).expect("rm");
    let bad = dir.path().join("models/bad");
    let o = import(&bin_only, &bad);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("tokenizer.json"), "{err}");
    assert!(!bad.exists());
    let mut left: Vec<_> = std::fs::read_dir(dir.path().join("models"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["clip-vit-b32", "from-bin"], "no half-written folder");

    // --clip and the VideoCLIP files do not mix.
    let o = vclip([
        "models".as_ref(),
        "import".as_ref(),
        "--clip".as_ref(),
        hf.as_os_str(),
        "--videoclip".as_ref(),
        fixtures().join("pth/checkpoint_videoclip.pt").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn pull_clip_downloads_from_a_mirror_and_imports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let served = dir.path().join("www/models");
    std::fs::create_dir_all(&served).expect("mkdir");
    let hf = fixtures().join("clip/hf");
    for n in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(hf.join(n), served.join(n)).expect("copy");
    }
    let server = serve_folder(&served);
    let models = dir.path().join("models");
    let out_dir = models.join("clip-vit-b32");
    let o = vclip([
        "models".as_ref(),
        "pull".as_ref(),
        "clip-vit-b32".as_ref(),
        "--mirror".as_ref(),
        server.url.as_ref(),
        "--out".as_ref(),
        out_dir.as_os_str(),
    ]);
    assert_eq!(ok(&o).trim(), out_dir.to_str().expect("utf-8"));
    // A plain web folder declares no SHA-256: the weights' hash is computed and said to be
    // unverified, on stderr and in the model's description.
    let sha = vclip_engine::download::sha256_file(&hf.join("model.safetensors")).expect("sha");
    let line = format!("model.safetensors sha256 {sha} (not verified)");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(&format!("weights: {line}")), "{stderr}");
    let cfg = config_json(&out_dir);
    assert!(
        cfg["description"]
            .as_str()
            .is_some_and(|d| d.ends_with(&line)),
        "{cfg}"
    );
    assert_eq!(cfg["family"], "clip-vit-b32");
    assert_eq!(cfg["random_weights"], false);
    vclip_model::ClipModel::load(&out_dir, &vclip_model::Device::Cpu).expect("loads");
    // The staging downloads are gone once the model is in place.
    let left: Vec<_> = std::fs::read_dir(&models)
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, ["clip-vit-b32"]);

    // An unknown family is a usage error.
    let o = vclip(["models", "pull", "dalle", "--out", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bench_encode_reports_clips_and_queries_per_second() {
    let o = vclip([
        "bench", "encode", "--preset", "tiny", "--runs", "1", "--batch", "2", "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).expect("JSON");
    assert!(v["s3d"]["clips_per_s"].as_f64().expect("clips/s") > 0.0);
    assert!(v["text"]["queries_per_s"].as_f64().expect("queries/s") > 0.0);
    assert_eq!(v["s3d"]["batch"], 2);
    assert_eq!(v["random_weights"], true);
}

#[test]
fn bench_encode_clip_reports_frames_per_second_and_a_unit_check_embedding() {
    let o = vclip([
        "bench", "encode", "--family", "clip", "--preset", "tiny", "--runs", "1", "--batch", "3",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).expect("JSON");
    assert_eq!(v["family"], "clip-vit-b32");
    assert_eq!(v["clip_image"]["batch"], 3);
    assert!(v["clip_image"]["frames_per_s"].as_f64().expect("frames/s") > 0.0);
    assert!(v["text"]["queries_per_s"].as_f64().expect("queries/s") > 0.0);
    assert!(v.get("s3d").is_none(), "no S3D-G in a CLIP model: {v}");
    // The first synthetic frame's embedding (what tools/clip_tower_bench.py compares with
    // PyTorch's): the model's unit-length output.
    let check = numbers(&v["check_features"]);
    assert!(!check.is_empty());
    let norm = check.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    // On the CPU the image tower runs 8-bit by default, and the report says how close that is
    // to f32 on the same frames; `--image-precision f32` runs it exact, with no such line.
    assert_eq!(v["clip_image"]["precision"], "q8");
    let agree = &v["clip_image"]["q8_cosine_to_f32"];
    let min = agree["min"].as_f64().expect("q8 cosine min");
    assert!(
        min > 0.99 && min <= agree["mean"].as_f64().expect("mean") + 1e-9,
        "{agree}"
    );
    // The tiny CLIP bench with one more option.
    // (`extra`: space-separated.)
    let tiny_clip_bench = |extra: &str| {
        let base = ["bench", "encode", "--family", "clip", "--preset", "tiny"];
        vclip(base.into_iter().chain(extra.split(' ')))
    };
    let o = tiny_clip_bench("--runs 1 --batch 3 --image-precision f32 --json");
    let f32_run: serde_json::Value = serde_json::from_str(&ok(&o)).expect("JSON");
    assert_eq!(f32_run["clip_image"]["precision"], "f32");
    assert!(f32_run["clip_image"].get("q8_cosine_to_f32").is_none());
    let bad = tiny_clip_bench("--image-precision q3");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("q3"));

    // A VideoCLIP folder with --family clip is refused, naming both.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("vc");
    ok(&vclip([
        "models".as_ref(),
        "init-random".as_ref(),
        dir.as_os_str(),
    ]));
    let o = vclip([
        "bench".as_ref(),
        "encode".as_ref(),
        "--family".as_ref(),
        "clip".as_ref(),
        "--model".as_ref(),
        dir.as_os_str(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--family clip-vit-b32") && err.contains("videoclip"),
        "{err}"
    );
}

#[test]
fn bench_search_reports_recall_against_exact_search() {
    let o = vclip("bench search --n 3000 --dims 32 --queries 20 --json".split(' '));
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).expect("JSON");
    assert_eq!(v["n"], 3000);
    let recall = v["recall_at_k"].as_f64().expect("recall");
    assert!((0.0..=1.0).contains(&recall));
    assert!(v["p50_ms"].as_f64().expect("p50") > 0.0);
}

#[test]
fn bench_search_sweeps_beams_on_clustered_data_after_the_text_tower() {
    let args = "bench search --n 2000 --dims 32 --queries 10 --data clustered --ef 16,64 --m 8 \
                --ef-construction 32 --preset tiny --json";
    let o = vclip(args.split_whitespace());
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).expect("JSON");
    assert_eq!(v["data"]["kind"], "clustered");
    assert_eq!(
        (v["m"].as_u64(), v["ef_construction"].as_u64()),
        (Some(8), Some(32))
    );
    let sweep = v["sweep"].as_array().expect("sweep");
    let efs: Vec<u64> = sweep
        .iter()
        .map(|r| r["ef"].as_u64().expect("ef"))
        .collect();
    assert_eq!(efs, [16, 64]);
    // A wider beam never finds fewer of the true neighbours on the same index and queries.
    let recall = |r: &serde_json::Value| r["recall_at_k"].as_f64().expect("recall");
    assert!(recall(&sweep[1]) >= recall(&sweep[0]), "{sweep:?}");
    let t = &v["text_tower"];
    assert_eq!(t["random_weights"], true);
    let (text, total) = (
        t["text"]["p50_ms"].as_f64().expect("text"),
        t["total"]["p50_ms"].as_f64().expect("total"),
    );
    assert!(text > 0.0 && total >= text, "{t}");
}
