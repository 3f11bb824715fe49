//! VideoCLIP's overlapped video–text pair sampler (`docs/model-notes.md` §4.2; MMPT
//! `VideoRetriOverlappedAligner`, `how2processor.py:292-358`): the text clip first, the video
//! clip's centre inside the text's span, its duration drawn independently and grown from the
//! centre. So pairs overlap in time without being exactly aligned, which the paper shows is
//! what lets the model learn from loosely aligned narration.
//!
//! Per sample:
//! 1. a centre caption, uniform over the video's captions;
//! 2. a text budget `L_t ~ U{8..64}` tokens;
//! 3. a contiguous run of captions grown around the centre while more exist, fewer than `L_t`
//!    tokens are gathered and the run spans under 256 s: with p = 0.5 the next caption on the
//!    right (if any), otherwise the one on the left (or the right at the start);
//! 4. a video centre `c ~ U{floor(start of the run) ..= ceil(end of the run)}`, clamped to the
//!    video's seconds;
//! 5. a duration `L_v ~ U{3..32}` seconds;
//! 6. `[c, c)` grown one second at a time, `L_v` times while it can: right at the start, left at
//!    the end, else right or left with p = 0.5.
//!
//! [`Overlap::Aligned`] is the paper's "w/o overlap" ablation: the video is exactly
//! `[floor(text start), ceil(text end))`.

use super::rng::SplitMix64;

/// The sampler's knobs, with the paper's values as defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerConfig {
    /// Text budget range in tokens (`sampled_min_len`, `sampled_max_len`).
    pub text_tokens: (usize, usize),
    /// A run of captions stops growing once it spans this many seconds.
    pub max_text_span_s: f64,
    /// Video duration range in seconds (`sampled_video_min_len`, `_max_len`).
    pub video_seconds: (usize, usize),
    pub overlap: Overlap,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            text_tokens: (8, 64),
            max_text_span_s: 256.0,
            video_seconds: (3, 32),
            overlap: Overlap::Overlapped,
        }
    }
}

/// How the video clip relates to the text clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// VideoCLIP: centre inside the text span, random duration.
    Overlapped,
    /// The ablation: exactly the text's span.
    Aligned,
}

impl std::str::FromStr for Overlap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "overlapped" => Ok(Self::Overlapped),
            "aligned" => Ok(Self::Aligned),
            _ => Err(format!("pairs are `overlapped` or `aligned`, not `{s}`")),
        }
    }
}

/// One caption as the sampler sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub start_s: f64,
    pub end_s: f64,
    /// Its length in tokens (without `[CLS]`/`[SEP]`).
    pub tokens: usize,
}

/// One sampled pair: the captions `text` (a contiguous index range) and the video seconds
/// `[video.0, video.1)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub text: std::ops::Range<usize>,
    pub video: (usize, usize),
    /// The video clip's centre second (step 4).
    pub centre: usize,
    /// The drawn text budget and video duration (steps 2 and 5).
    pub text_budget: usize,
    pub video_budget: usize,
}

/// Draws one pair from a video with `captions` (time order) and `seconds` seconds of
/// features; `None` when there is no caption or no second.
pub fn sample(
    captions: &[Span],
    seconds: usize,
    cfg: &SamplerConfig,
    rng: &mut SplitMix64,
) -> Option<Pair> {
    if captions.is_empty() || seconds == 0 {
        return None;
    }
    let n = captions.len();
    // 1-3: the text clip.
    let centre_caption = rng.range(0, n - 1);
    let text_budget = rng.range(cfg.text_tokens.0, cfg.text_tokens.1);
    let (mut lo, mut hi) = (centre_caption, centre_caption);
    let mut tokens = captions[centre_caption].tokens;
    while (lo > 0 || hi + 1 < n)
        && tokens < text_budget
        && captions[hi].end_s - captions[lo].start_s < cfg.max_text_span_s
    {
        if (rng.coin() && hi + 1 < n) || lo == 0 {
            hi += 1;
            tokens += captions[hi].tokens;
        } else {
            lo -= 1;
            tokens += captions[lo].tokens;
        }
    }
    let text_start = captions[lo].start_s.max(0.0);
    let text_end = captions[hi].end_s.max(text_start);
    let last = seconds - 1;
    let first_s = (text_start.floor() as usize).min(last);
    let end_s = (text_end.ceil() as usize).min(last);
    let video_budget = rng.range(cfg.video_seconds.0, cfg.video_seconds.1);
    let (centre, video) = match cfg.overlap {
        Overlap::Aligned => {
            let end = (text_end.ceil() as usize).clamp(first_s + 1, seconds);
            (first_s, (first_s, end))
        }
        Overlap::Overlapped => {
            // 4-6: the video clip around a centre inside the text span.
            let c = rng.range(first_s, end_s.max(first_s));
            let (mut start, mut end) = (c, c);
            for _ in 0..video_budget {
                if end - start >= seconds {
                    break;
                }
                if start == 0 {
                    end += 1;
                } else if end == seconds {
                    start -= 1;
                } else if rng.coin() {
                    end += 1;
                } else {
                    start -= 1;
                }
            }
            (c, (start, end))
        }
    };
    Some(Pair {
        text: lo..hi + 1,
        video,
        centre,
        text_budget,
        video_budget,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` captions of 3 s each every 4 s, `tokens` each.
    fn captions(n: usize, tokens: usize) -> Vec<Span> {
        (0..n)
            .map(|i| Span {
                start_s: 4.0 * i as f64,
                end_s: 4.0 * i as f64 + 3.0,
                tokens,
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_pairs() {
        let caps = captions(50, 6);
        let run = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..100)
                .map(|_| sample(&caps, 200, &SamplerConfig::default(), &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn centre_inside_the_text_span_and_durations_uniform_over_3_to_32() {
        let caps = captions(80, 5);
        let seconds = 330;
        let cfg = SamplerConfig::default();
        let mut rng = SplitMix64::new(42);
        let draws = 30_000;
        let mut by_len = [0usize; 33];
        for _ in 0..draws {
            let p = sample(&caps, seconds, &cfg, &mut rng).expect("pair");
            let (lo, hi) = (p.text.start, p.text.end - 1);
            let (ts, te) = (
                caps[lo].start_s.floor() as usize,
                caps[hi].end_s.ceil() as usize,
            );
            assert!(ts <= p.centre && p.centre <= te, "{p:?}");
            assert!(p.video.0 <= p.centre && p.centre <= p.video.1, "{p:?}");
            assert!(p.video.1 <= seconds);
            // The video is as long as drawn (the video is long enough for every draw).
            assert_eq!(p.video.1 - p.video.0, p.video_budget, "{p:?}");
            by_len[p.video_budget] += 1;
            // The text run stopped for a reason: budget reached, 256 s, or no captions left.
            let tokens: usize = caps[p.text.clone()].iter().map(|c| c.tokens).sum();
            let span = caps[hi].end_s - caps[lo].start_s;
            assert!(
                tokens >= p.text_budget || span >= 256.0 || (lo == 0 && hi + 1 == caps.len()),
                "{p:?}"
            );
            // ...and not later than it had to (one caption less would be under the budget).
            assert!(tokens < p.text_budget + 5, "{p:?}");
            assert!((8..=64).contains(&p.text_budget));
        }
        let expected = draws as f64 / 30.0;
        for (len, &count) in by_len.iter().enumerate() {
            if (3..=32).contains(&len) {
                let dev = (count as f64 - expected).abs() / expected;
                assert!(
                    dev < 0.12,
                    "length {len}: {count} draws, expected about {expected}"
                );
            } else {
                assert_eq!(count, 0, "length {len}");
            }
        }
    }

    #[test]
    fn grows_both_ways_but_stays_inside_a_short_video() {
        let caps = captions(3, 4); // 0..11 s
        let mut rng = SplitMix64::new(5);
        let (mut left, mut right) = (0, 0);
        for _ in 0..2000 {
            let p = sample(&caps, 12, &SamplerConfig::default(), &mut rng).expect("pair");
            assert!(p.video.1 <= 12 && p.video.0 < p.video.1);
            assert_eq!(p.video.1 - p.video.0, p.video_budget.min(12));
            left += p.centre - p.video.0;
            right += p.video.1 - p.centre;
        }
        // Neither side is favoured much (edges push both ways).
        let ratio = left as f64 / right as f64;
        assert!((0.7..1.4).contains(&ratio), "{left} vs {right}");
        assert_eq!(sample(&[], 10, &SamplerConfig::default(), &mut rng), None);
        assert_eq!(sample(&caps, 0, &SamplerConfig::default(), &mut rng), None);
    }

    #[test]
    fn aligned_ablation_takes_exactly_the_text_span() {
        let caps = captions(20, 6);
        let cfg = SamplerConfig {
            overlap: Overlap::Aligned,
            ..SamplerConfig::default()
        };
        let mut rng = SplitMix64::new(9);
        for _ in 0..500 {
            let p = sample(&caps, 100, &cfg, &mut rng).expect("pair");
            let (lo, hi) = (p.text.start, p.text.end - 1);
            assert_eq!(
                p.video,
                (
                    caps[lo].start_s.floor() as usize,
                    caps[hi].end_s.ceil() as usize
                )
            );
        }
    }
}
