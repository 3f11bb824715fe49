//! Training text from subtitle cues: "rolling" captions merged as MMPT's
//! `CaptionDedupProcessor._dedup` does (`docs/model-notes.md` §4.1).
//!
//! Automatic captions repeat themselves: each cue shows the tail of the previous one plus a few
//! new words. Going through the cues in time order, against the caption kept before:
//! - a cue whose words are a suffix of the previous caption's is merged into it (its end is
//!   extended);
//! - a cue whose words start with all of the previous caption's replaces it (the span runs from
//!   the previous start to this end);
//! - a partial overlap (the previous caption ends with words this cue starts with) is given to
//!   one of the two, at random with p = 0.5;
//! - anything else is a new caption.
//!
//! Words are compared case-insensitively after whitespace splitting.

use super::rng::SplitMix64;

/// A training caption: a time span and its words.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
}

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

fn same(a: &[&str], b: &[&str]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// Merges rolling captions; `cues` are `(start_s, end_s, text)` in time order.
pub fn dedup(cues: &[(f64, f64, &str)], rng: &mut SplitMix64) -> Vec<Caption> {
    let mut out: Vec<Caption> = Vec::new();
    for &(start_s, end_s, text) in cues {
        let cur = words(text);
        if cur.is_empty() {
            continue;
        }
        let Some(prev) = out.last_mut() else {
            out.push(Caption {
                start_s,
                end_s,
                text: cur.join(" "),
            });
            continue;
        };
        let p = words(&prev.text);
        // Suffix of the previous caption (or the same words again): extend it.
        if cur.len() <= p.len() && same(&p[p.len() - cur.len()..], &cur) {
            prev.end_s = prev.end_s.max(end_s);
            continue;
        }
        // Starts with everything the previous caption said: it replaces it.
        if cur.len() > p.len() && same(&cur[..p.len()], &p) {
            prev.end_s = prev.end_s.max(end_s);
            prev.text = cur.join(" ");
            continue;
        }
        // The longest tail of the previous caption that this one starts with.
        let overlap = (1..p.len().min(cur.len()))
            .rev()
            .find(|&k| same(&p[p.len() - k..], &cur[..k]))
            .unwrap_or(0);
        if overlap > 0 && rng.next_f64() < 0.5 {
            // The overlapping words stay with the previous caption.
            let rest = cur[overlap..].join(" ");
            out.push(Caption {
                start_s,
                end_s,
                text: rest,
            });
        } else if overlap > 0 {
            // They go to the current one.
            let keep = p[..p.len() - overlap].join(" ");
            prev.text = keep;
            out.push(Caption {
                start_s,
                end_s,
                text: cur.join(" "),
            });
        } else {
            out.push(Caption {
                start_s,
                end_s,
                text: cur.join(" "),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(c: &[Caption]) -> Vec<&str> {
        c.iter().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn suffixes_merge_supersets_replace_and_new_text_is_kept() {
        let mut rng = SplitMix64::new(1);
        let cues = [
            (0.0, 2.0, "today we make bread"),
            (1.5, 3.0, "make bread"), // suffix: merged, end extended
            (3.0, 5.0, "today we make bread with rye"), // superset: replaces
            (6.0, 8.0, "first the flour"), // new
        ];
        let out = dedup(&cues, &mut rng);
        assert_eq!(
            texts(&out),
            ["today we make bread with rye", "first the flour"]
        );
        assert_eq!((out[0].start_s, out[0].end_s), (0.0, 5.0));
        assert_eq!((out[1].start_s, out[1].end_s), (6.0, 8.0));
    }

    #[test]
    fn a_partial_overlap_goes_to_one_side_at_random() {
        let cues = [
            (0.0, 2.0, "mix the flour and"),
            (2.0, 4.0, "flour and water slowly"),
        ];
        let (mut prev_side, mut cur_side) = (0, 0);
        for seed in 0..200 {
            let out = dedup(&cues, &mut SplitMix64::new(seed));
            assert_eq!(out.len(), 2);
            match texts(&out)[..] {
                ["mix the flour and", "water slowly"] => prev_side += 1,
                ["mix the", "flour and water slowly"] => cur_side += 1,
                ref other => panic!("unexpected split {other:?}"),
            }
        }
        // p = 0.5 each way: both sides happen, roughly equally.
        assert!((60..=140).contains(&prev_side), "{prev_side} / {cur_side}");
        assert_eq!(prev_side + cur_side, 200);
    }

    #[test]
    fn empty_cues_are_skipped_and_comparison_ignores_case() {
        let mut rng = SplitMix64::new(3);
        let out = dedup(
            &[
                (0.0, 1.0, "  "),
                (1.0, 2.0, "Hello World"),
                (2.0, 3.0, "world"),
            ],
            &mut rng,
        );
        assert_eq!(texts(&out), ["Hello World"]);
        assert_eq!(out[0].end_s, 3.0);
    }
}
