//! `vclip steps` (place a how-to's steps on a video) and `vclip eval crosstask`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use vclip_engine::chapters::ChapterFormat;
use vclip_engine::steps::parse_step_list;
use vclip_engine::StepOptions;

use super::library::LibraryArgs;
use super::print_json;

/// Where the steps come from.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct StepSource {
    /// One step (repeat for each, in order).
    #[arg(long = "step", value_name = "TEXT")]
    pub steps: Vec<String>,
    /// A file with one step per line (numbering and bullets are removed; `-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub steps_file: Option<PathBuf>,
    /// The steps the video lists itself: a numbered list in `NAME.description` beside it or
    /// in its description tag, or "Step 1 …" in its subtitles (the JSON says where).
    #[arg(long)]
    pub from_video: bool,
}

/// Chapter export (`--chapters FILE`).
#[derive(Debug, Clone, clap::Args)]
pub struct ChaptersArgs {
    /// Also write the steps as chapters to FILE: WebVTT if it ends in .vtt, else ffmetadata
    /// (`ffmpeg -i VIDEO -i FILE -map_metadata 1 -map_chapters 1 -codec copy OUT`).
    #[arg(long, value_name = "FILE")]
    pub chapters: Option<PathBuf>,
    /// The chapters file's format, whatever its name.
    #[arg(long, value_enum, value_name = "FORMAT", requires = "chapters")]
    pub chapters_format: Option<ChaptersFormatArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ChaptersFormatArg {
    Vtt,
    Ffmetadata,
}

impl From<ChaptersFormatArg> for ChapterFormat {
    fn from(f: ChaptersFormatArg) -> Self {
        match f {
            ChaptersFormatArg::Vtt => ChapterFormat::Vtt,
            ChaptersFormatArg::Ffmetadata => ChapterFormat::Ffmetadata,
        }
    }
}

impl StepSource {
    fn read(&self) -> anyhow::Result<Vec<String>> {
        let steps = match &self.steps_file {
            Some(f) if f.as_os_str() == "-" => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the steps from stdin")?;
                parse_step_list(&text)
            }
            Some(f) => {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("reading the steps file {}", f.display()))?;
                parse_step_list(&text)
            }
            None => self
                .steps
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        };
        if steps.is_empty() {
            anyhow::bail!(match &self.steps_file {
                Some(f) => format!("{}: no steps in the file", f.display()),
                None => "no steps given (every --step is empty)".to_owned(),
            });
        }
        Ok(steps)
    }
}

pub fn steps(
    args: &LibraryArgs,
    video: &str,
    source: &StepSource,
    unordered: bool,
    json: bool,
    chapters: &ChaptersArgs,
) -> anyhow::Result<ExitCode> {
    let (steps, engine, found) = if source.from_video {
        let engine = args.open(true)?;
        let found = engine.steps_from_video(video)?;
        eprintln!("{}", found.how);
        (found.steps.clone(), engine, Some(found))
    } else {
        (source.read()?, args.open(true)?, None)
    };
    let opts = StepOptions {
        ordered: !unordered,
        ..StepOptions::default()
    };
    let report = engine
        .steps(video, &steps, opts)
        .with_context(|| format!("placing {} steps on {video}", steps.len()))?;
    if let Some(path) = &chapters.chapters {
        let format = chapters
            .chapters_format
            .map_or_else(|| ChapterFormat::for_path(path), Into::into);
        let list = report
            .chapters()
            .with_context(|| format!("{}: cannot make chapters", path.display()))?;
        vclip_engine::chapters::write(path, format, &list)?;
        eprintln!("{} chapters written to {}", list.len(), path.display());
    }
    if json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(found), Some(obj)) = (&found, value.as_object_mut()) {
            obj.insert("found".into(), serde_json::to_value(found)?);
        }
        print_json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", report.video);
    println!(" #  start   end     score  step");
    for (i, s) in report.steps.iter().enumerate() {
        println!(
            "{:>2}  {:<6}  {:<6}  {:.2}   {}",
            i + 1,
            mmss(s.start_s),
            mmss(s.end_s),
            s.score,
            s.text
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `m:ss` (or `h:mm:ss`) of whole seconds (rounded down).
fn mmss(s: f64) -> String {
    let total = s.max(0.0).floor() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{sec:02}")
    } else {
        format!("{m}:{sec:02}")
    }
}

#[cfg(feature = "media")]
pub fn eval_crosstask(
    annotations: &std::path::Path,
    videos: &std::path::Path,
    args: &LibraryArgs,
    batch: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use vclip_engine::encode::EncodeOptions;
    use vclip_engine::{CancelToken, ImportOptions};

    let dataset = vclip_engine::crosstask::read_dataset(annotations)?;
    if dataset.items.is_empty() {
        anyhow::bail!(
            "{}: no annotation files of primary tasks (expected annotations/<task>_<video>.csv)",
            annotations.display()
        );
    }
    // The evaluation gets its own library unless one is named: the benchmark's videos should
    // not end up in the user's own library.
    let mut args = args.clone();
    if args.library.is_none() {
        args.library = Some(videos.join(".vclip-crosstask"));
    }
    let engine = args.open(true)?;
    let opts = ImportOptions {
        encode: EncodeOptions {
            clip_batch: batch,
            ..EncodeOptions::default()
        },
    };
    let report = engine.eval_crosstask(
        &dataset,
        videos,
        opts,
        &crate::progress::Bar::new(),
        &CancelToken::new(),
    )?;
    if json {
        print_json(&report)?;
    } else {
        for t in &report.tasks {
            println!(
                "{:>6}  {:>5.1} %  {:>4}/{:<4} steps  {:>3} videos  {}",
                t.task,
                100.0 * t.recall,
                t.steps_hit,
                t.steps_present,
                t.videos,
                t.title
            );
        }
        match report.recall {
            Some(r) => println!(
                "CrossTask recall {:.1} % (mean of {} tasks, {} videos)",
                100.0 * r,
                report.tasks.len(),
                report.videos.len()
            ),
            None => println!("no annotated step could be scored"),
        }
        if !report.missing.is_empty() {
            println!(
                "{} annotated videos have no file in {}",
                report.missing.len(),
                videos.display()
            );
        }
    }
    for (path, reason) in &report.failed {
        eprintln!("error: {path}: {reason}");
    }
    Ok(if report.failed.is_empty() && report.recall.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_of_whole_seconds() {
        assert_eq!(super::mmss(0.0), "0:00");
        assert_eq!(super::mmss(75.9), "1:15");
        assert_eq!(super::mmss(3723.0), "1:02:03");
    }
}
