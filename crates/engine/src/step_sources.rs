//! Steps a video lists itself, so that a how-to can be placed on its timeline without typing.
//!
//! Looked for, in this order:
//! 1. a `NAME.description` file beside the video (what `yt-dlp --write-description` saves);
//! 2. the container's `description`, `synopsis` or `comment` tag;
//! 3. the subtitles: cues that say "Step 1: …", "step two, …" or start with "1. …".
//!
//! In a description, the steps are the longest run of list items numbered 1, 2, 3, … (blank
//! lines between items allowed); failing that, a run of timestamped lines (`0:00 Intro`, as
//! video chapters are written) or of bullets. A run needs at least two items. Lines that are
//! links are never steps. [`FoundSteps::how`] says where and how the list was found.

use std::path::{Path, PathBuf};

use serde::Serialize;
use vclip_index::Cue;

use crate::store::{Engine, EngineError, Result};

/// Where a video's own steps were found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepOrigin {
    /// A text file beside the video.
    DescriptionFile { path: PathBuf },
    /// The container's description (or synopsis, or comment) tag.
    ContainerTag,
    /// The subtitle cues; `at_s` is where each step is announced.
    Subtitles { at_s: Vec<f64> },
}

/// How the items of a list were marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Numbered,
    Timestamped,
    Bulleted,
}

impl ListKind {
    fn describe(self) -> &'static str {
        match self {
            ListKind::Numbered => "numbered list",
            ListKind::Timestamped => "list of timestamped lines",
            ListKind::Bulleted => "bulleted list",
        }
    }
}

/// Steps found in a video's own description or subtitles.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FoundSteps {
    pub steps: Vec<String>,
    pub origin: StepOrigin,
    pub list: ListKind,
    /// One sentence for the user: "4 steps from the numbered list in repair.description".
    pub how: String,
}

/// One line of a description, classified.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Marker {
    Number(u32),
    Time(u32),
    Bullet,
}

/// The list item on `line`, if it is one: its marker and its text.
fn item(line: &str) -> Option<(Marker, &str)> {
    let s = line.trim();
    if let Some(rest) = s.strip_prefix(['-', '*', '+', '•', '–', '—', '·']) {
        if rest.starts_with(char::is_whitespace) {
            return Some((Marker::Bullet, rest.trim()));
        }
    }
    if let Some((n, rest)) = step_number(s) {
        return Some((Marker::Number(n), rest));
    }
    if let Some((t, rest)) = timestamp(s) {
        return Some((Marker::Time(t), rest));
    }
    numbered(s).map(|(n, rest)| (Marker::Number(n), rest))
}

/// `1. text`, `2) text`, `(3) text`, `4: text`, `5 - text`.
fn numbered(s: &str) -> Option<(u32, &str)> {
    let (inner, paren) = match s.strip_prefix('(') {
        Some(r) => (r, true),
        None => (s, false),
    };
    let digits = inner.len() - inner.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > 3 {
        return None;
    }
    let n: u32 = inner[..digits].parse().ok()?;
    let after = &inner[digits..];
    let rest = if paren {
        after.strip_prefix(')')?
    } else if let Some(a) = after.strip_prefix(['.', ')', ':']) {
        a
    } else {
        let a = after.strip_prefix(char::is_whitespace)?.trim_start();
        a.strip_prefix(['-', '–'])?
    };
    rest.starts_with(char::is_whitespace)
        .then(|| (n, rest.trim()))
        .filter(|(_, r)| !r.is_empty())
}

const NUMBER_WORDS: [&str; 20] = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// `Step 3: text`, `step three, text`, `STEP 3 - text`, `Step 3.` (text may be empty).
fn step_number(s: &str) -> Option<(u32, &str)> {
    let head = s.get(..4)?;
    if !head.eq_ignore_ascii_case("step") {
        return None;
    }
    let rest = s[4..].strip_prefix(char::is_whitespace)?.trim_start();
    let word_end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let word = &rest[..word_end];
    let n = match word.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            let lower = word.to_ascii_lowercase();
            NUMBER_WORDS.iter().position(|w| *w == lower)? as u32 + 1
        }
    };
    let after = rest[word_end..].trim_start();
    let after = after
        .strip_prefix([':', '.', ',', ')', '-', '–', '—'])
        .unwrap_or(after);
    Some((n, after.trim()))
}

/// `0:00 text`, `1:02:03 - text`, `(12:30) text`, `[0:00] text`: seconds and the text.
fn timestamp(s: &str) -> Option<(u32, &str)> {
    let (inner, close) = match s.chars().next()? {
        '(' => (&s[1..], Some(')')),
        '[' => (&s[1..], Some(']')),
        _ => (s, None),
    };
    let end = inner
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(inner.len());
    let stamp = &inner[..end];
    let parts: Vec<&str> = stamp.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty() || p.len() > 2) {
        return None;
    }
    let mut secs = 0u32;
    for p in &parts {
        secs = secs * 60 + p.parse::<u32>().ok()?;
    }
    let mut rest = &inner[end..];
    if let Some(c) = close {
        rest = rest.strip_prefix(c)?;
    }
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix(['-', '–', '—', '|', ':'])
        .unwrap_or(rest)
        .trim();
    (!rest.is_empty()).then_some((secs, rest))
}

fn is_link(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("http://") || t.contains("https://") || t.contains("www.")
}

/// The steps listed in a free text (a description): see the module docs.
pub fn steps_in_text(text: &str) -> Option<(Vec<String>, ListKind)> {
    let lines: Vec<&str> = text.lines().collect();
    [
        ListKind::Numbered,
        ListKind::Timestamped,
        ListKind::Bulleted,
    ]
    .into_iter()
    .find_map(|kind| longest_run(&lines, kind).map(|run| (run, kind)))
}

/// The longest list of `kind` in `lines` with at least two items.
fn longest_run(lines: &[&str], kind: ListKind) -> Option<Vec<String>> {
    let of_kind = |m: Marker| {
        matches!(
            (kind, m),
            (ListKind::Numbered, Marker::Number(_))
                | (ListKind::Timestamped, Marker::Time(_))
                | (ListKind::Bulleted, Marker::Bullet)
        )
    };
    let starts = |m: Marker| matches!(m, Marker::Number(1) | Marker::Time(_) | Marker::Bullet);
    let follows = |prev: Marker, m: Marker| match (prev, m) {
        (Marker::Number(p), Marker::Number(n)) => n == p + 1,
        (Marker::Time(p), Marker::Time(t)) => t >= p,
        (Marker::Bullet, Marker::Bullet) => true,
        _ => false,
    };
    let mut best: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut last: Option<Marker> = None;
    let end_run = |run: &mut Vec<String>, best: &mut Vec<String>| {
        if run.len() > best.len() {
            *best = std::mem::take(run);
        }
        run.clear();
    };
    for line in lines {
        if line.trim().is_empty() {
            continue; // blank lines may separate the items of one list
        }
        let Some((m, t)) = item(line).filter(|(m, _)| of_kind(*m)) else {
            end_run(&mut run, &mut best);
            last = None;
            continue;
        };
        let continues = last.is_some_and(|p| follows(p, m));
        if !continues {
            end_run(&mut run, &mut best);
            last = None;
            if !starts(m) {
                continue;
            }
        }
        if !is_link(t) {
            run.push(t.to_owned());
        }
        last = Some(m);
    }
    end_run(&mut run, &mut best);
    (best.len() >= 2).then_some(best)
}

/// The steps announced in subtitle cues ("Step 1: …", "1. …"), in time order, with the time
/// of each; a step whose cue says only "Step two." takes the next cue's text.
pub fn steps_in_cues(cues: &[Cue]) -> Option<(Vec<String>, Vec<f64>)> {
    let mut found: Vec<(u32, String, f64)> = Vec::new();
    let mut pending: Option<(u32, f64)> = None;
    let mut previous = "";
    for cue in cues {
        let text = cue.text.trim();
        if text.is_empty() || text == previous {
            continue; // rolling captions repeat a line
        }
        previous = text;
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some((n, at)) = pending.take() {
            if step_number(&flat).is_none() && numbered(&flat).is_none() {
                found.push((n, first_sentence(&flat), at));
                continue;
            }
        }
        match step_number(&flat).or_else(|| numbered(&flat)) {
            Some((n, "")) => pending = Some((n, cue.start_s)),
            Some((n, rest)) => found.push((n, first_sentence(rest), cue.start_s)),
            None => {}
        }
    }
    // The longest run numbered 1, 2, 3, … in time order.
    let mut best: Vec<&(u32, String, f64)> = Vec::new();
    let mut run: Vec<&(u32, String, f64)> = Vec::new();
    for f in &found {
        match run.last() {
            Some(p) if f.0 == p.0 + 1 => run.push(f),
            Some(p) if f.0 == p.0 => {} // the same step announced twice
            _ => {
                if run.len() > best.len() {
                    best = std::mem::take(&mut run);
                }
                run.clear();
                if f.0 == 1 {
                    run.push(f);
                }
            }
        }
    }
    if run.len() > best.len() {
        best = run;
    }
    (best.len() >= 2).then(|| {
        (
            best.iter().map(|f| f.1.clone()).collect(),
            best.iter().map(|f| f.2).collect(),
        )
    })
}

/// Text up to the end of its first sentence (a step is usually one), without the full stop.
fn first_sentence(text: &str) -> String {
    let t = text.trim();
    let end = t
        .char_indices()
        .find(|&(i, c)| {
            matches!(c, '.' | '!' | '?')
                && t[i + c.len_utf8()..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace)
        })
        .map_or(t.len(), |(i, _)| i);
    t[..end].trim().to_owned()
}

/// `NAME.description` beside `video`.
pub fn description_file(video: &Path) -> PathBuf {
    video.with_extension("description")
}

impl Engine {
    /// The steps video `what` lists itself (see the module docs), or an error that says where
    /// it looked.
    pub fn steps_from_video(&self, what: &str) -> Result<FoundSteps> {
        let video = self.find(what)?;
        let path = PathBuf::from(&video.path);
        let name = path
            .file_name()
            .map_or_else(|| video.path.clone(), |n| n.to_string_lossy().into_owned());
        let file = description_file(&path);
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Some((steps, list)) = steps_in_text(&text) {
                let how = format!(
                    "{} steps from the {} in {}",
                    steps.len(),
                    list.describe(),
                    file.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                );
                return Ok(FoundSteps {
                    steps,
                    origin: StepOrigin::DescriptionFile { path: file },
                    list,
                    how,
                });
            }
        }
        #[cfg(feature = "media")]
        if let Some(text) = vclip_media::probe(&path).ok().and_then(|i| i.description) {
            if let Some((steps, list)) = steps_in_text(&text) {
                let how = format!(
                    "{} steps from the {} in {name}'s description tag",
                    steps.len(),
                    list.describe()
                );
                return Ok(FoundSteps {
                    steps,
                    origin: StepOrigin::ContainerTag,
                    list,
                    how,
                });
            }
        }
        let cues = self.library().catalogue().cues_of(video.id)?;
        if let Some((steps, at_s)) = steps_in_cues(&cues) {
            let how = format!(
                "{} steps announced in {name}'s subtitles (\"Step 1 …\")",
                steps.len()
            );
            return Ok(FoundSteps {
                steps,
                origin: StepOrigin::Subtitles { at_s },
                list: ListKind::Numbered,
                how,
            });
        }
        Err(EngineError::Invalid(format!(
            "{} lists no steps: no numbered, timestamped or bulleted list in {} or in the \
             file's description tag, and no \"Step 1 …\" in its subtitles; type or paste them",
            video.path,
            file.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start_s: f64, text: &str) -> Cue {
        Cue {
            start_s,
            end_s: start_s + 2.0,
            text: text.into(),
            origin: vclip_index::CueOrigin::Subtitle,
        }
    }

    #[test]
    fn a_numbered_list_inside_prose_and_links() {
        let text = "Fixing the fan of a laptop.\n\
                    Tools: a screwdriver. 2 hours.\n\
                    \n\
                    1. Remove the screws\n\
                    2) Lift the cover\n\
                    \n\
                    3: Unplug the battery\n\
                    \n\
                    Follow me: https://example.com\n\
                    1. unrelated list\n";
        let (steps, kind) = steps_in_text(text).expect("found");
        assert_eq!(kind, ListKind::Numbered);
        assert_eq!(
            steps,
            ["Remove the screws", "Lift the cover", "Unplug the battery"]
        );
    }

    #[test]
    fn numbers_must_follow_one_another() {
        // "3D print" and "1.5 cups" are not items; a list must start at 1 and count up.
        assert_eq!(
            steps_in_text("3D print the case\n1.5 cups of flour\n"),
            None
        );
        let (steps, _) = steps_in_text("2. b\n3. c\n1. x\n2. y\n3. z\n4. w\n").expect("found");
        assert_eq!(steps, ["x", "y", "z", "w"]);
        assert_eq!(steps_in_text("1. only one\n"), None);
    }

    #[test]
    fn chapters_and_bullets_when_there_is_no_numbering() {
        let text = "My video\n0:00 Intro\n01:30 - Cut the onions\n1:02:03 Serve\nhttps://x.y\n";
        let (steps, kind) = steps_in_text(text).expect("found");
        assert_eq!(kind, ListKind::Timestamped);
        assert_eq!(steps, ["Intro", "Cut the onions", "Serve"]);
        let (steps, kind) =
            steps_in_text("You need:\n- flour\n• sugar\n- https://shop.example\n").expect("found");
        assert_eq!(kind, ListKind::Bulleted);
        assert_eq!(steps, ["flour", "sugar"]);
        // Step words count as numbering.
        let (steps, kind) = steps_in_text("Step 1: whisk\nStep 2 - fold\n").expect("found");
        assert_eq!(
            (steps, kind),
            (vec!["whisk".into(), "fold".into()], ListKind::Numbered)
        );
    }

    #[test]
    fn subtitles_announce_steps_with_numbers_or_words() {
        let cues = [
            cue(1.0, "Hi, today we fix a fan."),
            cue(5.0, "Step 1: remove the screws. They are tiny."),
            cue(7.0, "Step 1: remove the screws. They are tiny."), // rolling caption
            cue(12.0, "Step two."),
            cue(13.0, "Lift the cover gently"),
            cue(20.0, "step three, unplug the battery!"),
            cue(30.0, "Thanks for watching"),
        ];
        let (steps, at) = steps_in_cues(&cues).expect("found");
        assert_eq!(
            steps,
            [
                "remove the screws",
                "Lift the cover gently",
                "unplug the battery"
            ]
        );
        assert_eq!(at, [5.0, 12.0, 20.0]);
        assert_eq!(steps_in_cues(&[cue(1.0, "Step 4: alone")]), None);
        assert_eq!(
            steps_in_cues(&[cue(1.0, "nothing here"), cue(3.0, "at all")]),
            None
        );
    }
}
