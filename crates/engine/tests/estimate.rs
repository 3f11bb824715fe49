//! The import estimate (issue #7): measured on tiny **random-weight** models and generated
//! videos, so the numbers prove the measuring, not the speed of the released models.
#![cfg(feature = "media")]

#[path = "common/setup.rs"]
mod setup;

use std::path::PathBuf;

use vclip_engine::estimate::{EstimateOptions, ImportEstimate};
use vclip_engine::{model_version_of, CancelToken, Engine, EngineError, NoProgress};
use vclip_model::{init_random, init_random_clip, Device, Model, Preset};

use setup::{import, load, tiny_clip, tiny_videoclip, two_videos};

fn model(dir: &std::path::Path, clip: bool) -> Model {
    load(&if clip {
        tiny_clip(dir, "clip", 5)
    } else {
        tiny_videoclip(dir, "videoclip", 7)
    })
}

fn positive(x: f64, what: &str, e: &ImportEstimate) {
    assert!(x.is_finite() && x > 0.0, "{what} = {x}: {e:#?}");
}

/// Rates, samples and totals are positive and consistent with each other.
fn sane(e: &ImportEstimate, total_s: f64) {
    positive(e.stages.encode.rate, "encode rate", e);
    positive(e.stages.windows.rate, "windows rate", e);
    assert!(e.stages.encode.calls >= 1, "{e:#?}");
    let decode = e.decode.expect("decoding measured on the library's videos");
    positive(decode.rate, "decode rate", e);
    assert!(!e.samples.is_empty() && e.samples.len() <= 2, "{e:#?}");
    for s in &e.samples {
        positive(s.decode.seconds, "sample seconds", e);
        positive(s.overhead_s, "per-video work", e);
        assert!(s.overhead_s >= s.open_s, "{e:#?}");
    }
    positive(e.per_video_s, "per-video work", e);
    positive(e.video_s_per_s, "video-s/s", e);
    let c = e
        .concurrent
        .as_ref()
        .expect("decoding and the model at once");
    positive(c.decode.rate, "shared decode rate", e);
    positive(c.encode.rate, "shared encode rate", e);
    for share in [c.decode_share, c.encode_share] {
        assert!(share > 0.0 && share <= 1.0, "{e:#?}");
    }
    // Between the stages never overlapping and overlapping without competing.
    let slowest = decode.rate.min(e.stages.encode.rate);
    let serial =
        1.0 / (1.0 / decode.rate + 1.0 / e.stages.encode.rate + 1.0 / e.stages.windows.rate);
    assert!(e.video_s_per_s >= serial * 0.999, "{e:#?}");
    assert!(e.video_s_per_s <= slowest * 1.0001, "{e:#?}");
    assert!((e.library.total_s - total_s).abs() < 0.5, "{e:#?}");
    let expected = total_s / e.video_s_per_s + 2.0 * e.per_video_s;
    assert!(
        (e.library_import_s - expected).abs() <= 1e-6 * expected,
        "{} vs {expected}",
        e.library_import_s
    );
    assert!(e.per_hour_s > 3600.0 / e.video_s_per_s, "{e:#?}");
    positive(e.measured_s, "measured", e);
    assert!(e.measured_s < 60.0, "a few seconds, not minutes: {e:#?}");
}

#[test]
fn the_estimate_measures_the_family_decoder_on_library_videos_and_says_what_a_switch_does() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let paths = two_videos(tmp.path());
    let lib = tmp.path().join("library");
    let (engine, _) = Engine::open(&lib, Some(model(tmp.path(), false))).expect("open");
    let report = import(&engine, &paths);
    assert_eq!(report.imported.len(), 2, "{report:?}");
    let opts = EstimateOptions::default();

    // The active VideoCLIP model: 30 fps clips, the library is embedded already.
    let e = engine
        .import_estimate(None, &opts, &CancelToken::new())
        .expect("estimate");
    sane(&e, 16.0);
    assert_eq!(
        (e.family.as_str(), e.decoder.as_str()),
        ("videoclip", "30 fps clips")
    );
    assert_eq!((e.device.as_str(), e.random_weights), ("cpu", true));
    for s in &e.samples {
        assert_eq!(s.output_frames as f64, 30.0 * s.decode.seconds, "{s:?}");
    }
    // The longest video first.
    assert!(e.samples[0].path.ends_with("pattern.mp4"), "{e:#?}");
    assert!(e.library.embedded && e.library.decode_videos == 0, "{e:#?}");
    assert_eq!((e.library.reembed_videos, e.switch_s), (2, 0.0));

    // A CLIP model that is not active: one frame per second, and a switch decodes both videos.
    let clip = model(tmp.path(), true);
    let e = engine
        .import_estimate(Some(&clip), &opts, &CancelToken::new())
        .expect("estimate");
    sane(&e, 16.0);
    assert_eq!(
        (e.family.as_str(), e.decoder.as_str()),
        ("clip-vit-b32", "one frame per second")
    );
    for s in &e.samples {
        assert_eq!(s.output_frames as f64, s.decode.seconds, "{s:?}");
        assert!(s.decoded_frames >= s.output_frames, "{s:?}");
    }
    let w = &e.library;
    assert!(!w.embedded, "{e:#?}");
    assert_eq!(
        (w.decode_videos, w.reembed_videos, w.missing_files),
        (2, 0, 0)
    );
    assert!((w.decode_s - 16.0).abs() < 0.5, "{w:?}");
    assert!(
        e.switch_s > 0.0 && e.switch_s <= e.library_import_s * 1.0001,
        "{e:#?}"
    );

    // Cancelled: an error, promptly.
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = engine
        .import_estimate(Some(&clip), &opts, &cancel)
        .expect_err("cancelled");
    assert!(matches!(err, EngineError::Cancelled), "{err}");

    // After a switch to CLIP, going back to VideoCLIP would re-embed both videos and decode none.
    let videoclip_version = model_version_of(engine.model().expect("model")).expect("version");
    let clip_version = model_version_of(&clip).expect("version");
    drop(engine);
    let (engine, _) = Engine::open(&lib, Some(clip)).expect("open with clip");
    let done = engine
        .ensure_embedded(&NoProgress, &CancelToken::new())
        .expect("embed")
        .expect("something to do");
    assert_eq!(done.decoded, 2, "{done:?}");
    let back = engine.embed_work(&videoclip_version).expect("work");
    assert!(
        back.embedded,
        "VideoCLIP's windows are still there: {back:?}"
    );
    assert_eq!(
        (back.decode_videos, back.reembed_videos),
        (0, 2),
        "{back:?}"
    );
    let now = engine.embed_work(&clip_version).expect("work");
    assert!(now.embedded && now.decode_videos == 0, "{now:?}");
}

#[test]
fn without_a_readable_video_decoding_is_not_measured_and_the_estimate_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("library");
    let (engine, _) = Engine::open(&lib, Some(model(tmp.path(), true))).expect("open");
    let e = engine
        .import_estimate(None, &EstimateOptions::default(), &CancelToken::new())
        .expect("estimate");
    assert!(
        e.decode.is_none() && e.samples.is_empty() && e.concurrent.is_none(),
        "{e:#?}"
    );
    assert!(e.video_s_per_s > 0.0 && e.per_video_s == 0.0, "{e:#?}");
    assert_eq!(
        (e.library.videos, e.library_import_s, e.switch_s),
        (0, 0.0, 0.0)
    );
    let err = Engine::open(&tmp.path().join("other"), None)
        .expect("open")
        .0
        .import_estimate(None, &EstimateOptions::default(), &CancelToken::new())
        .expect_err("no model");
    assert!(matches!(err, EngineError::NoModel), "{err}");
}

/// The estimate against the real thing, with full-size random models (the released models'
/// architectures and cost; the weights do not change the speed): the videos in
/// `$VCLIP_ESTIMATE_VIDEOS` (`:`-separated) are imported with a tiny model, then for each
/// family the estimate of a switch is compared with the switch itself (`ensure_embedded`).
/// Minutes on a CPU (VideoCLIP's S3D-G), so not run by default:
/// `VCLIP_ESTIMATE_VIDEOS=/abs/a.mp4:/abs/b.mp4 cargo test --release -p vclip-engine --features
/// media --test estimate -- --ignored --nocapture` (`VCLIP_ESTIMATE_FAMILY` for one family).
#[test]
#[ignore = "minutes of full-size models; run by hand with VCLIP_ESTIMATE_VIDEOS"]
fn the_estimate_predicts_a_real_switch() {
    let Some(videos) = std::env::var_os("VCLIP_ESTIMATE_VIDEOS") else {
        eprintln!("VCLIP_ESTIMATE_VIDEOS is not set: nothing to measure");
        return;
    };
    let paths: Vec<PathBuf> = std::env::split_paths(&videos).collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let lib = tmp.path().join("library");
    let engine = setup::open(&lib, &tiny_clip(tmp.path(), "tiny", 5));
    let r = import(&engine, &paths);
    assert_eq!(r.imported.len(), paths.len(), "{r:?}");
    drop(engine);
    // `$VCLIP_ESTIMATE_FAMILY`: `clip-vit-b32` or `videoclip` only (default: both).
    let only = std::env::var("VCLIP_ESTIMATE_FAMILY").ok();
    for clip in [true, false] {
        let name = if clip { "clip-vit-b32" } else { "videoclip" };
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let dir = tmp
            .path()
            .join(if clip { "clip-full" } else { "videoclip-full" });
        if clip {
            init_random_clip(Preset::Full, 1, &dir, None).expect("init");
        } else {
            init_random(Preset::Full, 1, &dir, None).expect("init");
        }
        let model = Model::load(&dir, &Device::Cpu).expect("load");
        let (engine, _) = Engine::open(&lib, None).expect("open");
        let e = engine
            .import_estimate(
                Some(&model),
                &EstimateOptions::default(),
                &CancelToken::new(),
            )
            .expect("estimate");
        drop(engine);
        let (engine, _) = Engine::open(&lib, Some(model)).expect("open");
        let t = std::time::Instant::now();
        let done = engine
            .ensure_embedded(&NoProgress, &CancelToken::new())
            .expect("switch")
            .expect("work");
        let actual = t.elapsed().as_secs_f64();
        assert_eq!(done.decoded, paths.len());
        let r = serde_json::json!({
            "family": e.family, "videos": e.library.videos, "video_s": e.library.total_s,
            "measured_s": e.measured_s, "encode_rate": e.stages.encode.rate,
            "encode_batch": e.stages.batch, "encode_calls": e.stages.encode.calls,
            "decode_rate": e.decode.map(|d| d.rate), "window_rate": e.stages.windows.rate,
            "shares": e.concurrent.as_ref().map(|c| (c.decode_share, c.encode_share)),
            "samples": e.samples.iter().map(|s| (s.decode.seconds, s.decode.wall_s, s.open_s, s.overhead_s)).collect::<Vec<_>>(),
            "per_video_s": e.per_video_s, "video_s_per_s": e.video_s_per_s,
            "predicted_s": e.switch_s, "actual_s": actual,
            "actual_video_s_per_s": e.library.total_s / actual,
            "predicted_over_actual": e.switch_s / actual,
        });
        eprintln!("ESTIMATE {r}");
        drop(engine);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_pipeline_rate_lies_between_no_overlap_and_no_competition() {
    use vclip_engine::estimate::pipeline_rate;
    // No competition: the slower stage sets the pace.
    assert!((pipeline_rate(9.0, 12.0, 1.0, 1.0) - 9.0).abs() < 1e-9);
    assert!((pipeline_rate(0.6, 6.0, 1.0, 1.0) - 0.6).abs() < 1e-9);
    // Decode-bound, each at half speed while the other runs: d / (1 + (d - d/2) / (e/2)).
    let r = pipeline_rate(9.0, 12.0, 0.5, 0.5);
    assert!((r - 9.0 / (1.0 + 4.5 / 6.0)).abs() < 1e-9, "{r}");
    // Never below running one after the other, never above the slower stage.
    for (d, e, ds, es) in [
        (9.0, 12.0, 0.01, 0.01),
        (12.0, 9.0, 0.3, 0.9),
        (1.0, 1.0, 0.5, 0.5),
    ] {
        let r = pipeline_rate(d, e, ds, es);
        assert!(
            r >= 1.0 / (1.0 / d + 1.0 / e) - 1e-9 && r <= d.min(e) + 1e-9,
            "{r}"
        );
    }
}
