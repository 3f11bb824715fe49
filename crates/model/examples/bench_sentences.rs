//! Sentence-encoder throughput: seconds to embed 1,000 typical subtitle lines.
//!
//! ```text
//! cargo run --release -p vclip-model --example bench_sentences -- [MODEL_DIR] [LINES]
//! ```
//!
//! `MODEL_DIR` defaults to `.cache/all-minilm-l6-v2` (`scripts/fetch-test-assets.sh`); the lines
//! are 1-2-line dialogue cues of 2 to 20 words, as subtitles are. Runs on the CPU (or the GPU
//! with `--features cuda`); one warm-up call, then the median of 3 timed calls.

use std::path::PathBuf;
use std::time::Instant;

use vclip_model::SentenceEncoder;

const CUES: &[&str] = &[
    "Where are you going?",
    "- Home.\n- Wait, I'll come with you.",
    "Now whisk the eggs until they're light and fluffy.",
    "I told you not to touch that!",
    "Okay.",
    "We need to get out of here before they find us.",
    "[door creaks]",
    "Add a pinch of salt and let it simmer for ten minutes.",
    "What do you mean, it's gone?",
    "Tighten the chain with a 10 mm wrench, not too hard.",
    "♪ And I will always love you ♪",
    "Thank you.",
    "The results came back this morning, and they're not good.",
    "Hey! Over here!",
    "If we cut the red wire, the whole thing goes up.",
    "You've been lying to me this entire time, haven't you?",
    "Let the dough rest for an hour, covered with a damp cloth.",
    "No, no, no, no.",
    "Captain, we're receiving a transmission from the surface.",
    "I don't know what you're talking about.",
    "Turn left at the next junction, then keep straight for two miles.",
    "(laughing)",
    "So the key idea is that every layer sees the whole sequence.",
    "Mom, can I stay at Jake's tonight? Please?",
    "Café au lait, s'il vous plaît.",
    "It's 3:45. We're late.",
    "Sand the edges first, then apply the varnish in thin coats.",
    "Are you sure this is the right address?",
    "Previously on the show...",
    "He said he'd be back by midnight, but nobody has heard from him since.",
];

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/all-minilm-l6-v2")
    });
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let device = vclip_model::device(cfg!(feature = "cuda"))?;
    let t = Instant::now();
    let enc = SentenceEncoder::load(&dir, &device)?;
    println!(
        "loaded {} ({}, dim {}) in {:.2} s",
        dir.display(),
        enc.id(),
        enc.dim(),
        t.elapsed().as_secs_f64()
    );
    // Distinct lines: a cue, sometimes with a second one (two-line cues) and a counter.
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let a = CUES[i % CUES.len()];
            match i % 4 {
                0 => a.to_owned(),
                1 => format!("{a} ({i})"),
                2 => format!("{a}\n{}", CUES[(i * 7 + 3) % CUES.len()]),
                _ => format!("{}, {a}", ["Well", "Look", "Listen", "Right"][i % 4]),
            }
        })
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let words = refs
        .iter()
        .map(|l| l.split_whitespace().count())
        .sum::<usize>();
    enc.embed(&refs[..refs.len().min(64)])?;
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let v = enc.embed(&refs)?;
        // Reading the values back synchronises a GPU.
        v.sum_all()?.to_scalar::<f32>()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[1];
    println!(
        "embedded {n} subtitle lines ({:.1} words each) in {median:.2} s: {:.0} lines/s \
         (median of 3: {:.2} / {:.2} / {:.2} s)",
        words as f64 / n.max(1) as f64,
        n as f64 / median,
        times[0],
        times[1],
        times[2]
    );
    Ok(())
}
