//! `probe`, `frames`, `subtitles`, `thumbnail`: what the media layer sees in a file.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use vclip_engine::{ProgressSink, Tracker};
use vclip_media::{ClipDecoder, DecodeOptions, MediaInfo, StreamKind};

use super::{clock, print_json};
use crate::progress::Bar;

#[derive(Serialize)]
#[serde(untagged)]
enum ProbeOutcome {
    Ok(Box<MediaInfo>),
    Err { path: String, error: String },
}

/// `vclip export`: one moment of `video` into `out`, and its subtitles beside it.
pub fn export(
    video: &std::path::Path,
    span: std::ops::Range<f64>,
    out: &std::path::Path,
    mode: vclip_media::CutMode,
    force: bool,
    srt: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let srt_path = out.with_extension("srt");
    // The subtitles first: a refusal or a bad track leaves no clip behind either.
    let cues = if srt {
        anyhow::ensure!(
            force || !srt_path.exists(),
            "{}: already exists (replace it with --force)",
            srt_path.display()
        );
        let (tracks, errors) = vclip_media::subtitles::read_all(video)?;
        for e in errors {
            eprintln!("warning: {e}");
        }
        let track = tracks.into_iter().max_by_key(|t| t.cues.len());
        Some(track.map(|t| t.cues).unwrap_or_default())
    } else {
        None
    };
    let r = vclip_media::cut(video, out, span.start, span.end, mode, force)?;
    let mut wrote_srt = None;
    if let Some(cues) = cues {
        let text = vclip_media::span_srt(&cues, r.start_s, r.end_s);
        if text.is_empty() {
            eprintln!(
                "no subtitles in {:.3}-{:.3} s: no .srt written",
                r.start_s, r.end_s
            );
        } else {
            let tmp = srt_path.with_extension("srt.partial");
            let written =
                std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &srt_path));
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written.with_context(|| format!("writing {}", srt_path.display()))?;
            wrote_srt = Some(srt_path);
        }
    }
    if json {
        #[derive(Serialize)]
        struct Exported<'a> {
            #[serde(flatten)]
            cut: &'a vclip_media::CutReport,
            srt: Option<std::path::PathBuf>,
        }
        print_json(&Exported {
            cut: &r,
            srt: wrote_srt,
        })?;
    } else {
        let how = match r.mode {
            vclip_media::CutMode::Copy => "copied from the keyframe at",
            _ => "re-encoded from",
        };
        println!(
            "{}: {} frames, {how} {:.3} s to {:.3} s of {}",
            r.out.display(),
            r.frames,
            r.start_s,
            r.end_s,
            video.display()
        );
        if let Some(p) = wrote_srt {
            println!("{}: its subtitles", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn probe(files: &[std::path::PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    let mut outcomes = Vec::new();
    for file in files {
        match vclip_media::probe(file) {
            Ok(info) => {
                if !json {
                    print_info(&info);
                }
                outcomes.push(ProbeOutcome::Ok(Box::new(info)));
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
                outcomes.push(ProbeOutcome::Err {
                    path: file.display().to_string(),
                    error: e.kind.to_string(),
                });
            }
        }
    }
    if json {
        print_json(&outcomes)?;
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_info(info: &MediaInfo) {
    println!("{}", info.path.display());
    let duration = info
        .duration_s
        .map(|d| {
            format!(
                ", {}{}",
                clock(d),
                if info.duration_estimated {
                    " (estimated)"
                } else {
                    ""
                }
            )
        })
        .unwrap_or_default();
    println!(
        "  container  {} ({}), {:.1} MB{duration}",
        info.container,
        info.container_long,
        info.size_bytes as f64 / 1e6
    );
    if let Some(title) = &info.title {
        println!("  title      {title}");
    }
    match &info.video {
        Some(v) => {
            let fps = |r: Option<f64>| r.map_or("?".to_owned(), |r| format!("{r:.3}"));
            let rotation = if v.rotation != 0 {
                format!(
                    ", rotated {}° → {}x{}",
                    v.rotation, v.display_width, v.display_height
                )
            } else {
                String::new()
            };
            println!(
                "  video      #{} {} {} {}x{}, {} fps (real {}){rotation}{}",
                v.stream_index,
                v.codec,
                v.pixel_format,
                v.width,
                v.height,
                fps(v.avg_frame_rate),
                fps(v.real_frame_rate),
                if v.still_image { ", still image" } else { "" }
            );
        }
        None => println!("  video      none"),
    }
    for s in info.streams.iter().filter(|s| s.kind != StreamKind::Video) {
        let kind = match s.kind {
            StreamKind::Audio => "audio",
            StreamKind::Subtitle => "subtitle",
            StreamKind::Data => "data",
            StreamKind::Attachment => "attachment",
            StreamKind::Unknown | StreamKind::Video => "other",
        };
        let lang = s
            .language
            .as_deref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        println!("  {kind:<10} #{} {}{lang}", s.index, s.codec);
    }
    for p in &info.sidecar_subtitles {
        println!("  sidecar    {}", p.display());
    }
}

pub fn frames(file: &Path, at: f64, out: &Path) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        at.is_finite() && at >= 0.0,
        "--at must be a non-negative number of seconds"
    );
    let wanted = at.floor() as usize;
    let mut decoder = ClipDecoder::open(file, DecodeOptions::default())?;
    let bar = Bar::new();
    let mut tracker = Tracker::new(
        "decoding",
        "s",
        decoder.expected_clips().map(|n| n.min(wanted as u64 + 1)),
    );
    tracker.set_current(file.file_name().map(|n| n.to_string_lossy().into_owned()));
    tracker.start(&bar);
    let mut found = None;
    for clip in decoder.by_ref() {
        let clip = clip?;
        tracker.advance(1, &bar);
        if clip.index == wanted {
            found = Some(clip);
            break;
        }
    }
    tracker.finish(&bar);
    for w in &decoder.report().warnings {
        bar.emit(vclip_engine::ProgressEvent::Warning {
            item: file.display().to_string(),
            message: w.clone(),
        });
    }
    let Some(clip) = found else {
        anyhow::bail!(
            "{}: second {wanted} is past the end of the video ({} clips)",
            file.display(),
            decoder.report().clips
        );
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for t in 0..clip.frame_count() {
        let path = out.join(format!("frame_{t:02}.png"));
        vclip_media::write_png_rgb(&path, clip.frame(t), clip.size, clip.size)?;
        println!("{}", path.display());
    }
    if clip.valid_frames < clip.frame_count() {
        eprintln!(
            "note: frames {}..{} are black padding after the end of the video",
            clip.valid_frames,
            clip.frame_count() - 1
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn subtitles(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (tracks, errors) = vclip_media::subtitles::read_all(file)?;
    for e in &errors {
        eprintln!("error: {e}");
    }
    for t in &tracks {
        for w in &t.warnings {
            eprintln!("warning: {}: {w}", file.display());
        }
    }
    if json {
        print_json(&tracks)?;
    } else {
        for t in &tracks {
            let source = match &t.source {
                vclip_media::subtitles::SubtitleSource::Embedded { stream_index } => {
                    format!("stream #{stream_index}")
                }
                vclip_media::subtitles::SubtitleSource::Sidecar { path } => {
                    path.display().to_string()
                }
            };
            let lang = t.language.as_deref().unwrap_or("und");
            println!("# {source} ({}, {lang}, {} cues)", t.format, t.cues.len());
            for c in &t.cues {
                println!(
                    "{} --> {}  {}",
                    clock(c.start_s),
                    clock(c.end_s),
                    c.text.replace('\n', " / ")
                );
            }
        }
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn thumbnail(file: &Path, at: f64, out: &Path, size: u32) -> anyhow::Result<ExitCode> {
    let jpeg = vclip_media::thumbnail_jpeg(file, at, size)?;
    std::fs::write(out, jpeg).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// `vclip ocr FILE`: the on-screen text of a video file as timed lines.
#[cfg(feature = "ocr")]
pub fn ocr(file: &Path, languages: &str, json: bool) -> anyhow::Result<ExitCode> {
    if languages == "list" {
        let dir = vclip_ocr::tessdata_dir();
        let have = dir
            .as_deref()
            .map(vclip_ocr::installed_languages)
            .unwrap_or_default();
        match &dir {
            Some(d) => println!("language packs in {}: {}", d.display(), have.join(" ")),
            None => println!("no Tesseract language folder found (set TESSDATA_PREFIX)"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut reader = vclip_ocr::Ocr::new(languages)?;
    let expected = vclip_media::probe(file)
        .ok()
        .and_then(|i| i.duration_s)
        .map(|d| d.ceil() as u64);
    let bar = Bar::new();
    let mut tracker = Tracker::new("screen text", "s", expected);
    tracker.set_current(file.file_name().map(|n| n.to_string_lossy().into_owned()));
    tracker.start(&bar);
    let cancel = super::library::ctrl_c_token();
    let report = vclip_engine::screen::read_screen(
        file,
        &mut reader,
        &mut |_| tracker.advance(1, &bar),
        &cancel,
    )
    .with_context(|| format!("cannot read the screen text of {}", file.display()))?;
    tracker.finish(&bar);
    if json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{} s: read {} frames, {} unchanged, {} without text (Tesseract {}, {})",
        report.seconds,
        report.read,
        report.unchanged,
        report.textless,
        vclip_ocr::version(),
        reader.languages()
    );
    if report.cues.is_empty() {
        println!("no text on screen");
    }
    for c in &report.cues {
        println!("{} --> {}  {}", clock(c.start_s), clock(c.end_s), c.text);
    }
    Ok(ExitCode::SUCCESS)
}
