//! One function per subcommand. Each returns the process exit code: 0 when everything worked,
//! 1 when some input failed (after reporting it on stderr and carrying on with the rest).

pub mod bench;
#[cfg(feature = "media")]
mod bench_decode;
#[cfg(feature = "media")]
mod bench_import;
#[cfg(feature = "media")]
pub mod finetune;
pub mod library;
#[cfg(feature = "media")]
mod media;
mod models;
pub mod steps;
pub mod versions;

use std::process::ExitCode;

use crate::{BenchCommand, Command, ModelsCommand};

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        #[cfg(feature = "media")]
        Command::Probe { files, json } => media::probe(&files, json),
        #[cfg(feature = "media")]
        Command::Export {
            video,
            start,
            end,
            out,
            reencode,
            copy,
            force,
            srt,
            json,
        } => {
            let mode = match (reencode, copy) {
                (true, _) => vclip_media::CutMode::Reencode,
                (_, true) => vclip_media::CutMode::Copy,
                _ => vclip_media::CutMode::Auto,
            };
            media::export(&video, start..end, &out, mode, force, srt, json)
        }
        #[cfg(feature = "media")]
        Command::Frames { file, at, out } => media::frames(&file, at, &out),
        #[cfg(feature = "media")]
        Command::Subtitles { file, json } => media::subtitles(&file, json),
        #[cfg(feature = "media")]
        Command::Thumbnail {
            file,
            at,
            out,
            size,
        } => media::thumbnail(&file, at, &out, size),
        #[cfg(feature = "media")]
        Command::Watch {
            dirs,
            once,
            list,
            forget,
            settle,
            json,
            lib,
        } => library::watch(
            &lib,
            &library::WatchArgs {
                dirs,
                once,
                list,
                forget,
                settle,
                json,
            },
        ),
        #[cfg(feature = "media")]
        Command::Import {
            paths,
            batch,
            exact_frames,
            screen,
            json,
            lib,
        } => library::import(&lib, &paths, batch, exact_frames, &screen, json),
        Command::List { json, lib } => library::list(&lib, json),
        Command::Search {
            query,
            example,
            limit,
            filters,
            json,
            export,
            lib,
        } => library::search(
            &lib,
            query.as_deref(),
            &example,
            limit,
            &filters,
            json,
            &export,
        ),
        Command::Remove { videos, json, lib } => library::remove(&lib, &videos, json),
        #[cfg(feature = "ocr")]
        Command::Ocr {
            file,
            languages,
            json,
            lib,
        } => match file {
            Some(file) => media::ocr(&file, &languages, json),
            None => library::ocr_library(&lib, &languages, json),
        },
        #[cfg(feature = "media")]
        Command::Duplicates {
            min_run,
            similarity,
            json,
            lib,
        } => library::duplicates(&lib, min_run, similarity, json),
        Command::Link { video, at, lib } => library::link(&lib, &video, at),
        Command::Open {
            link,
            print,
            json,
            lib,
        } => library::open_link(&lib, &link, print || json, json),
        Command::Steps {
            video,
            source,
            unordered,
            json,
            chapters,
            lib,
        } => steps::steps(&lib, &video, &source, unordered, json, &chapters),
        #[cfg(feature = "media")]
        Command::Eval {
            what:
                crate::EvalCommand::Crosstask {
                    annotations,
                    videos,
                    batch,
                    json,
                    lib,
                },
        } => steps::eval_crosstask(&annotations, &videos, &lib, batch, json),
        #[cfg(feature = "media")]
        Command::Reindex { json, lib } => library::reindex(&lib, json),
        #[cfg(feature = "media")]
        Command::Finetune { args, lib } => finetune::finetune(&lib, &args),
        Command::Models { what } => match what {
            ModelsCommand::Import {
                videoclip,
                s3d,
                vocab,
                clip,
                out,
                preset,
            } => match (clip, videoclip, s3d, vocab) {
                (Some(clip), ..) => models::import_clip(&clip, out),
                (None, Some(videoclip), Some(s3d), Some(vocab)) => {
                    models::import(&videoclip, &s3d, &vocab, out, &preset)
                }
                // clap requires the three files unless --clip is given.
                _ => anyhow::bail!("give --videoclip, --s3d and --vocab, or --clip DIR"),
            },
            ModelsCommand::Pull {
                family,
                mirror,
                out,
                preset,
            } => models::pull(&family, mirror, out, &preset),
            ModelsCommand::InitRandom {
                family,
                preset,
                seed,
                vocab,
                tokenizer,
                dir,
            } => models::init_random(
                &family,
                &preset,
                seed,
                vocab.as_deref(),
                tokenizer.as_deref(),
                &dir,
            ),
            ModelsCommand::PullSentence { mirror, out } => models::pull_sentence(mirror, out),
            ModelsCommand::Versions { args } => versions::list(&args),
            #[cfg(feature = "media")]
            ModelsCommand::Use { target, args } => versions::use_version(&args, &target),
            #[cfg(feature = "media")]
            ModelsCommand::Rollback { args } => versions::rollback(&args),
        },
        #[cfg(feature = "media")]
        Command::Encode {
            video,
            model,
            gpu,
            batch,
            json,
        } => models::encode(&video, model, gpu, batch, json),
        Command::Bench { what } => match what {
            BenchCommand::Search(args) => bench::search(args),
            BenchCommand::Finetune(args) => bench::finetune(args),
            #[cfg(feature = "media")]
            BenchCommand::Decode {
                file,
                runs,
                json,
                per_second,
            } => {
                if per_second {
                    bench_decode::per_second(&file, runs, json)
                } else {
                    bench::decode(&file, runs, json)
                }
            }
            #[cfg(feature = "ocr")]
            BenchCommand::Screen {
                files,
                family,
                preset,
                languages,
                runs,
                json,
            } => {
                let family = parse_family(&family)?;
                let r = vclip_bench::screen::run(&files, family, &preset, &languages, runs)?;
                if json {
                    print_json(&r)?;
                } else {
                    for x in &r {
                        println!(
                            "{}: {:.0} s of video; import {:.2} s, screen text {:.2} s ({} of {} \
                             frames read, {:.2} frames/s, {} lines): the import takes {:.2}x",
                            x.file.display(),
                            x.video_s,
                            x.import_s,
                            x.screen_s,
                            x.frames_read,
                            x.seconds,
                            x.frames_per_s,
                            x.lines,
                            x.slowdown
                        );
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            #[cfg(feature = "media")]
            BenchCommand::Rescan { files, runs, json } => {
                let r = vclip_bench::rescan::run_in_temp(files, runs)?;
                if json {
                    print_json(&r)?;
                } else {
                    println!(
                        "rescan of {} unchanged files: {:.2} s (median of {}); walking the \
                         folders alone {:.2} s: {:.2}x; {} found unchanged (setup {:.1} s)",
                        r.files, r.rescan_s, r.runs, r.walk_s, r.ratio, r.unchanged, r.setup_s
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            #[cfg(feature = "media")]
            BenchCommand::Import {
                file,
                model,
                preset,
                family,
                batch,
                exact_frames,
                dtype,
                image_precision,
                runs,
                gpu,
                json,
            } => bench_import::import(bench_import::ImportBench {
                file,
                model,
                preset,
                family_given: family.is_some(),
                family: family.unwrap_or_else(|| "videoclip".into()),
                batch,
                exact_frames,
                dtype,
                image_precision,
                runs,
                gpu,
                json,
            }),
            BenchCommand::Encode {
                model,
                preset,
                family,
                batch,
                frames,
                text_batch,
                dtype,
                image_precision,
                runs,
                profile,
                kernels,
                gpu,
                json,
            } => bench::encode(bench::EncodeBench {
                model,
                preset,
                family_given: family.is_some(),
                family: family.unwrap_or_else(|| "videoclip".into()),
                batch,
                frames,
                text_batch,
                dtype,
                image_precision,
                runs,
                profile,
                kernels,
                gpu,
                json,
            }),
        },
    }
}

/// Writes a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}

/// `m:ss.s` (or `h:mm:ss.s`) for seconds.
pub fn clock(s: f64) -> String {
    let total = s.max(0.0);
    let h = (total / 3600.0).floor();
    let m = ((total - h * 3600.0) / 60.0).floor();
    let sec = total - h * 3600.0 - m * 60.0;
    if h > 0.0 {
        format!("{h}:{m:02}:{sec:04.1}")
    } else {
        format!("{m}:{sec:04.1}")
    }
}

/// A model family on the command line: its name (`videoclip`, `clip-vit-b32`), or `clip` for
/// the CLIP family.
pub(crate) fn parse_family(s: &str) -> anyhow::Result<vclip_model::Family> {
    match s {
        "clip" => Ok(vclip_model::Family::Clip),
        other => Ok(other.parse()?),
    }
}

/// CLIP's image-tower precision for the benchmarks on `device`: `asked` (the flag), else
/// `VCLIP_IMAGE_PRECISION`, else the device's default — as the engine opens a library.
pub(crate) fn image_precision(
    asked: Option<vclip_model::Precision>,
    device: &vclip_model::Device,
) -> anyhow::Result<vclip_model::Precision> {
    use vclip_engine::open::{DeviceKind, OpenRequest};
    let request = OpenRequest {
        image_precision: asked,
        env: vclip_engine::open::Environment::from_process(),
        ..OpenRequest::default()
    };
    // `VCLIP_CPU_LEVEL` caps the kernels of the benchmarks as it does for every command that
    // opens a library (and the CPU's default precision follows the capped level).
    request.env.apply_cpu_level()?;
    let kind = if device.is_cpu() {
        DeviceKind::Cpu
    } else {
        DeviceKind::Gpu
    };
    Ok(request.image_precision(kind)?.value)
}
