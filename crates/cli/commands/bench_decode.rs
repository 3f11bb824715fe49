//! `vclip bench decode FILE --per-second`: the one-frame-per-second sampler (the CLIP family's
//! decoding, issue #7) with each speed option, as video-seconds per wall-second and as a ratio to
//! decoding every frame of the same file in the same run; also the S3D clip decoder for reference.
//! Each option's frames are compared with the baseline's (exact or not, and by how much). The
//! harness is `vclip_bench::decode::per_second`; this prints its report.

use std::path::Path;
use std::process::ExitCode;

use super::print_json;

pub fn per_second(file: &Path, runs: usize, json: bool) -> anyhow::Result<ExitCode> {
    let result = vclip_bench::decode::per_second(file, runs, &mut |run, name| {
        if !json {
            eprintln!("run {run}/{}: {name}", runs.max(1));
        }
    })?;
    let runs = result.runs;
    if json {
        print_json(&result)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("file     {} ({})", result.file, result.video);
    println!(
        "video    {:.0} s, {} packets, {} keyframes (a GOP every {:.2} s); reduced-size decoding \
         (lowres) levels of this codec: {}",
        result.video_s,
        result.packets,
        result.keyframes,
        result.mean_gop_s,
        result.codec_max_lowres
    );
    println!(
        "one 224x224 frame per second; median of {runs} run(s); ratio = wall time of the baseline \
         / wall time"
    );
    println!(
        "{:<48} {:>9} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>6} {:>9}",
        "",
        "video-s/s",
        "ratio",
        "wall s",
        "cpu s",
        "decoded",
        "dropped",
        "seeks",
        "exact",
        "offset s"
    );
    for r in &result.rows {
        let exact = if r.exact {
            "yes".to_owned()
        } else {
            format!("{:.2}", r.max_mean_abs_diff)
        };
        println!(
            "{:<48} {:>9.1} {:>7.2} {:>7.2} {:>7.2} {:>8} {:>8} {:>6} {:>6} {:>9.3}",
            r.name,
            r.video_s_per_s,
            r.ratio_to_baseline,
            r.wall_s,
            r.cpu_s,
            r.decoded_frames,
            r.dropped_packets,
            r.seeks,
            exact,
            r.max_offset_s
        );
    }
    println!(
        "exact: frames identical to the baseline's, else the largest mean absolute difference of \
         a frame (1/255); offset: largest distance of a frame taken from its second's middle"
    );
    Ok(ExitCode::SUCCESS)
}
