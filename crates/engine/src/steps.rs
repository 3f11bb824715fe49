//! Step localisation maths: where does each step of a how-to fall on a video's timeline?
//!
//! Everything here works on a plain similarity matrix `sims[second][step]` (f32): the dot product
//! of the video's per-second token states with the steps' text embeddings (`docs/model-notes.md`
//! §5.4–§5.5; the engine builds it in [`crate::localize`]). Nothing here knows about files or
//! models, so every rule is tested on hand-made matrices.
//!
//! 1. **Log-probabilities** ([`log_probs`]): per second, a log-softmax over the steps — exactly
//!    CrossTask's zero-shot scoring (§5.5) — optionally with one extra *background* column whose
//!    logit is COIN's threshold γ (§5.4, [`background_threshold`]): a second then belongs to a
//!    step only where the step's logit beats γ, which is COIN's "argmax if max > γ, else
//!    background" rule written as a probability.
//! 2. **Ordered alignment** ([`align_ordered`]): CrossTask's dynamic programme (`dp.pyx` of
//!    DmZhukov/CrossTask) on the cost `−log p`: the steps keep the given order, each step is
//!    placed on exactly one second, background seconds cost nothing and may come before,
//!    between and after the steps. The path of minimal total cost is returned.
//! 3. **Unordered placement** ([`align_unordered`]): each step on the second where it is most
//!    probable, independently (for lists that are not in the video's order; steps may share a
//!    second).
//! 4. **Spans** ([`grow_span`]): the one second of a step is grown into the contiguous run of
//!    seconds around it where the step is *strictly* the most probable column (background
//!    included). In ordered mode a span never crosses the neighbouring steps' seconds, so spans
//!    are disjoint and in order.
//! 5. **Confidence**: `p(step | second)` at the step's second, in `[0, 1]`.
//! 6. **COIN-style labelling** ([`label_seconds`]): every second gets the step with the largest
//!    similarity if it exceeds γ, else background (`None`).
//!
//! # Ties (deterministic, and CrossTask's)
//! The DP breaks ties as `dp.pyx` does, so predictions are the reference's even on exact ties:
//! at each state the predecessors are tried in the order *stay in background*, *come from the
//! state just before*, *skip the background from the previous step*, and a later one replaces an
//! earlier one only when strictly cheaper; at the end the path finishing on the last step's
//! second is kept unless finishing in background is strictly cheaper. In practice: among equally
//! good placements a step goes to the **earliest** second, except the last step, which goes to
//! the **last** second when placing it there costs the same. [`align_unordered`] and
//! [`label_seconds`] pick the earliest second / the first step on ties.
//!
//! One deliberate difference from `dp.pyx`: with exactly as many seconds as steps its final
//! comparison reads an unreachable state (undefined result); here unreachable states are never
//! chosen, so every step still gets its own second.

use serde::Serialize;

/// Why a matrix cannot be aligned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepsError {
    /// No step was given.
    #[error("no steps were given")]
    NoSteps,
    /// The video has no second to place steps on.
    #[error("the video has no seconds to place steps on")]
    EmptyVideo,
    /// Ordered alignment gives each step its own second.
    #[error(
        "{steps} steps cannot be placed in order on a {seconds}-second video (each step needs \
         its own second); give fewer steps or use unordered mode"
    )]
    TooManySteps { steps: usize, seconds: usize },
    /// A row of the matrix has the wrong length.
    #[error("second {second} has {got} similarities for {expected} steps")]
    Ragged {
        second: usize,
        expected: usize,
        got: usize,
    },
    /// A similarity is NaN or infinite (a broken model or token file).
    #[error("the similarity of step {} at second {second} is {value} (not a finite number)", step + 1)]
    NotFinite {
        second: usize,
        step: usize,
        value: f32,
    },
    /// The background threshold is NaN.
    #[error("the background threshold is not a number")]
    BadThreshold,
}

/// Checks the shape and values of `sims`; returns `(seconds, steps)`.
pub fn check(sims: &[Vec<f32>]) -> Result<(usize, usize), StepsError> {
    let steps = sims.first().map_or(0, Vec::len);
    if sims.is_empty() {
        return Err(StepsError::EmptyVideo);
    }
    if steps == 0 {
        return Err(StepsError::NoSteps);
    }
    for (second, row) in sims.iter().enumerate() {
        if row.len() != steps {
            return Err(StepsError::Ragged {
                second,
                expected: steps,
                got: row.len(),
            });
        }
        if let Some((step, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(StepsError::NotFinite {
                second,
                step,
                value,
            });
        }
    }
    Ok((sims.len(), steps))
}

/// Per-second log-probabilities over the steps, plus the background column when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct LogProbs {
    pub seconds: usize,
    pub steps: usize,
    /// Whether column `steps` is the background.
    pub background: bool,
    /// `seconds × cols` values, row-major; `cols = steps + background as usize`.
    data: Vec<f32>,
}

impl LogProbs {
    /// Columns per second (steps, then background if any).
    pub fn cols(&self) -> usize {
        self.steps + usize::from(self.background)
    }

    /// The log-probabilities of second `t` (steps, then background).
    pub fn row(&self, t: usize) -> &[f32] {
        let c = self.cols();
        &self.data[t * c..(t + 1) * c]
    }

    /// `log p(column | second t)`.
    pub fn at(&self, t: usize, col: usize) -> f32 {
        self.data[t * self.cols() + col]
    }

    /// Whether `col` is strictly more probable than every other column at second `t`.
    pub fn strictly_best(&self, t: usize, col: usize) -> bool {
        let row = self.row(t);
        let v = row[col];
        row.iter().enumerate().all(|(j, &x)| j == col || v > x)
    }
}

/// Log-softmax over the steps of each second (`torch.nn.LogSoftmax(dim=1)` of §5.5), with an
/// extra background column of logit `background` when given (γ of §5.4; `-inf` is allowed and
/// gives the background probability 0).
pub fn log_probs(sims: &[Vec<f32>], background: Option<f32>) -> Result<LogProbs, StepsError> {
    let (seconds, steps) = check(sims)?;
    if background.is_some_and(f32::is_nan) {
        return Err(StepsError::BadThreshold);
    }
    let cols = steps + usize::from(background.is_some());
    let mut data = Vec::with_capacity(seconds * cols);
    for row in sims {
        let logits = row.iter().copied().chain(background);
        let max = logits.clone().fold(f32::NEG_INFINITY, f32::max);
        // `(x − max) − ln Σ exp(x − max)`, in this order as PyTorch computes it: the same
        // shifted logit then gives the same log-probability in every second, so exact ties in
        // the DP stay exact ties.
        let log_sum = logits.clone().map(|x| (x - max).exp()).sum::<f32>().ln();
        data.extend(logits.map(|x| (x - max) - log_sum));
    }
    Ok(LogProbs {
        seconds,
        steps,
        background: background.is_some(),
        data,
    })
}

/// CrossTask's ordered alignment (see the module docs): the second of each step, increasing.
///
/// States `k ∈ 0..=2K`: even `k` is the background after `k/2` steps, odd `k` is step
/// `(k+1)/2` (1-based) on the current second. A step state lasts exactly one second; background
/// states may last any number of seconds, including none. Cost of a second: `−log p(step)` in a
/// step state, 0 in background. Totals are summed in f64, as `dp.pyx` does.
pub fn align_ordered(lp: &LogProbs) -> Result<Vec<usize>, StepsError> {
    let (t_len, k_len) = (lp.seconds, lp.steps);
    if k_len > t_len {
        return Err(StepsError::TooManySteps {
            steps: k_len,
            seconds: t_len,
        });
    }
    let states = 2 * k_len + 1;
    // total[t][k]: least cost of the first t seconds ending in state k (None: unreachable);
    // from[t][k]: the state at second t−1 on that path.
    let mut total: Vec<Option<f64>> = vec![None; (t_len + 1) * states];
    let mut from = vec![0usize; (t_len + 1) * states];
    total[0] = Some(0.0);
    for t in 1..=t_len {
        for k in 0..states {
            let step = step_of(k);
            let mut candidates = [None; 3];
            if step == 0 {
                candidates[0] = Some(k); // stay in background
            }
            if k >= 1 {
                candidates[1] = Some(k - 1);
            }
            if step != 0 && k >= 2 {
                candidates[2] = Some(k - 2); // from the previous step, no background between
            }
            let mut best: Option<(usize, f64)> = None;
            for j in candidates.into_iter().flatten() {
                if let Some(v) = total[(t - 1) * states + j] {
                    // Strictly cheaper replaces: ties keep the earlier candidate (dp.pyx).
                    if best.is_none_or(|(_, b)| v < b) {
                        best = Some((j, v));
                    }
                }
            }
            if let Some((j, v)) = best {
                let cost = if step == 0 {
                    0.0
                } else {
                    -f64::from(lp.at(t - 1, step - 1))
                };
                total[t * states + k] = Some(v + cost);
                from[t * states + k] = j;
            }
        }
    }
    let end_bg = total[t_len * states + states - 1];
    let end_step = if k_len > 0 {
        total[t_len * states + states - 2]
    } else {
        None
    };
    let mut k = match (end_bg, end_step) {
        (Some(b), Some(s)) if b < s => states - 1,
        (_, Some(_)) => states - 2,
        (Some(_), None) => states - 1,
        // Unreachable with k_len <= t_len; kept total so no input panics.
        (None, None) => return Err(StepsError::EmptyVideo),
    };
    let mut seconds = vec![0usize; k_len];
    for t in (1..=t_len).rev() {
        let step = step_of(k);
        if step > 0 {
            seconds[step - 1] = t - 1;
        }
        k = from[t * states + k];
    }
    Ok(seconds)
}

/// The 1-based step of DP state `k`, 0 for the background states (even `k`).
fn step_of(k: usize) -> usize {
    if k.is_multiple_of(2) {
        0
    } else {
        k.div_ceil(2)
    }
}

/// Each step on the second where it is most probable (earliest on ties).
pub fn align_unordered(lp: &LogProbs) -> Vec<usize> {
    (0..lp.steps)
        .map(|k| {
            let mut best = 0;
            for t in 1..lp.seconds {
                if lp.at(t, k) > lp.at(best, k) {
                    best = t;
                }
            }
            best
        })
        .collect()
}

/// Grows `second` into `[start, end)`: the contiguous seconds around it, within `[lo, hi)`,
/// where `step` is strictly the most probable column. The second itself is always included.
pub fn grow_span(
    lp: &LogProbs,
    step: usize,
    second: usize,
    lo: usize,
    hi: usize,
) -> (usize, usize) {
    let mut start = second;
    while start > lo && lp.strictly_best(start - 1, step) {
        start -= 1;
    }
    let mut end = second + 1;
    while end < hi && lp.strictly_best(end, step) {
        end += 1;
    }
    (start, end)
}

/// Where one step was placed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// The step's second (the DP's, or its best one in unordered mode).
    pub second: usize,
    /// The grown span `[start, end)` in seconds; contains `second`.
    pub start: usize,
    pub end: usize,
    /// `p(step | second)`, in `[0, 1]`.
    pub confidence: f32,
    /// The raw similarity at `second` (dot product).
    pub similarity: f32,
}

/// The whole procedure: log-probabilities (with the background column when `background` is
/// given), ordered or unordered placement, spans and confidences; one [`Placement`] per step,
/// in the order of the steps.
pub fn localize(
    sims: &[Vec<f32>],
    background: Option<f32>,
    ordered: bool,
) -> Result<Vec<Placement>, StepsError> {
    let lp = log_probs(sims, background)?;
    let seconds = if ordered {
        align_ordered(&lp)?
    } else {
        align_unordered(&lp)
    };
    Ok(seconds
        .iter()
        .enumerate()
        .map(|(k, &t)| {
            let (lo, hi) = if ordered {
                let lo = if k == 0 { 0 } else { seconds[k - 1] + 1 };
                let hi = seconds.get(k + 1).copied().unwrap_or(lp.seconds);
                (lo, hi)
            } else {
                (0, lp.seconds)
            };
            let (start, end) = grow_span(&lp, k, t, lo, hi);
            Placement {
                second: t,
                start,
                end,
                confidence: lp.at(t, k).exp(),
                similarity: sims[t][k],
            }
        })
        .collect())
}

/// COIN's background threshold γ (§5.4, Paper eq. 6): the largest dot product between two
/// different steps' text embeddings. `None` for fewer than two steps (no pair to compare).
pub fn background_threshold(embeddings: &[Vec<f32>]) -> Option<f32> {
    let mut gamma: Option<f32> = None;
    for (i, a) in embeddings.iter().enumerate() {
        for (j, b) in embeddings.iter().enumerate() {
            if i != j {
                let s = crate::moments::dot(a, b);
                gamma = Some(gamma.map_or(s, |g| g.max(s)));
            }
        }
    }
    gamma
}

/// COIN's zero-shot labelling (§5.4): per second, the step with the largest similarity (the
/// first on ties) if that similarity is strictly above `gamma`, else `None` (background).
pub fn label_seconds(sims: &[Vec<f32>], gamma: f32) -> Result<Vec<Option<usize>>, StepsError> {
    check(sims)?;
    if gamma.is_nan() {
        return Err(StepsError::BadThreshold);
    }
    Ok(sims
        .iter()
        .map(|row| {
            let mut best = 0;
            for (k, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = k;
                }
            }
            (row[best] > gamma).then_some(best)
        })
        .collect())
}

/// Parses a typed or pasted list of steps: one step per line; blank lines skipped; leading
/// bullets (`-`, `*`, `+`, `•`, `–`, `—`) and numbering (`1.`, `2)`, `(3)`, `4:`, `5 -`,
/// `Step 6:`, `step 7`) removed. A number is only taken for numbering when a delimiter and a
/// space follow it (or the word "step" precedes it), so "3D print the case" and "1.5 cups of
/// flour" stay as they are.
pub fn parse_step_list(text: &str) -> Vec<String> {
    text.lines()
        .map(strip_marker)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn strip_marker(line: &str) -> &str {
    let mut s = line.trim();
    // Bullets.
    for b in ['-', '*', '+', '•', '–', '—', '·'] {
        if let Some(rest) = s.strip_prefix(b) {
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                s = rest.trim_start();
                break;
            }
        }
    }
    // "Step 3:", "step 3 -", "Step 3" (the word, a space, the number).
    if s.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("step"))
        && s[4..].starts_with(char::is_whitespace)
    {
        let rest = s[4..].trim_start();
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            let after = &rest[digits..];
            let after = after
                .strip_prefix([':', '.', ')', '-', '–'])
                .unwrap_or(after);
            if after.is_empty() || after.starts_with(char::is_whitespace) {
                return after.trim();
            }
        }
        return s;
    }
    // "1.", "2)", "3:", "4 -", "(5)".
    let (inner, paren) = match s.strip_prefix('(') {
        Some(r) => (r, true),
        None => (s, false),
    };
    let digits = inner.len() - inner.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return s;
    }
    let after = &inner[digits..];
    let after = if paren {
        match after.strip_prefix(')') {
            Some(a) => a,
            None => return s,
        }
    } else if let Some(a) = after.strip_prefix(['.', ')', ':']) {
        a
    } else if let Some(a) = after.trim_start().strip_prefix(['-', '–']) {
        if !after.starts_with(char::is_whitespace) {
            return s;
        }
        a
    } else {
        return s;
    };
    if after.is_empty() || after.starts_with(char::is_whitespace) {
        after.trim()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix from rows of similarities.
    fn m(rows: &[&[f32]]) -> Vec<Vec<f32>> {
        rows.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn log_probs_normalise_each_second() {
        let lp = log_probs(&m(&[&[1.0, 2.0, 3.0], &[0.0, 0.0, 0.0]]), None).expect("ok");
        for t in 0..2 {
            let total: f32 = lp.row(t).iter().map(|v| v.exp()).sum();
            assert!((total - 1.0).abs() < 1e-6);
        }
        assert!((lp.at(1, 0) - (1.0f32 / 3.0).ln()).abs() < 1e-6);
        // With a background logit equal to the steps': four equal columns.
        let lp = log_probs(&m(&[&[0.0, 0.0, 0.0]]), Some(0.0)).expect("ok");
        assert_eq!(lp.cols(), 4);
        assert!((lp.at(0, 3) - 0.25f32.ln()).abs() < 1e-6);
        // -inf background: probability 0, the steps keep their own softmax.
        let lp = log_probs(&m(&[&[0.0, 0.0]]), Some(f32::NEG_INFINITY)).expect("ok");
        assert!((lp.at(0, 0) - 0.5f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn order_is_respected_even_against_the_per_second_best() {
        // Step 1 is most likely at second 3 and step 2 at second 0, but step 1 must come first:
        // the best ordered path puts step 1 before step 2.
        let sims = m(&[&[0.0, 5.0], &[2.0, 0.0], &[0.0, 2.0], &[5.0, 0.0]]);
        let lp = log_probs(&sims, None).expect("ok");
        assert_eq!(align_ordered(&lp).expect("ok"), vec![1, 2]);
        // Unordered, each goes where it fits best.
        assert_eq!(align_unordered(&lp), vec![3, 0]);
    }

    #[test]
    fn background_before_between_and_after_is_free() {
        // Three steps with clear peaks at seconds 2, 5 and 7 of ten.
        let mut sims = vec![vec![0.0f32; 3]; 10];
        sims[2][0] = 6.0;
        sims[5][1] = 6.0;
        sims[7][2] = 6.0;
        let lp = log_probs(&sims, None).expect("ok");
        assert_eq!(align_ordered(&lp).expect("ok"), vec![2, 5, 7]);
    }

    #[test]
    fn adjacent_steps_need_no_background_between() {
        let sims = m(&[&[0.0, 0.0], &[9.0, 0.0], &[0.0, 9.0], &[0.0, 0.0]]);
        let lp = log_probs(&sims, None).expect("ok");
        assert_eq!(align_ordered(&lp).expect("ok"), vec![1, 2]);
    }

    #[test]
    fn dp_minimises_the_total_cost() {
        // Exhaustive check on a small irregular matrix: the DP's path costs no more than any
        // increasing assignment of 3 steps to 6 seconds.
        let sims: Vec<Vec<f32>> = (0..6)
            .map(|t| {
                (0..3)
                    .map(|k| ((t * 7 + k * 13) % 11) as f32 * 0.37 - 1.0)
                    .collect()
            })
            .collect();
        let lp = log_probs(&sims, None).expect("ok");
        let cost = |s: &[usize]| -> f64 {
            s.iter()
                .enumerate()
                .map(|(k, &t)| -f64::from(lp.at(t, k)))
                .sum()
        };
        let got = align_ordered(&lp).expect("ok");
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        let mut best = f64::INFINITY;
        for a in 0..6 {
            for b in a + 1..6 {
                for c in b + 1..6 {
                    best = best.min(cost(&[a, b, c]));
                }
            }
        }
        assert!((cost(&got) - best).abs() < 1e-9, "{got:?}");
    }

    #[test]
    fn ties_follow_crosstask_rule() {
        // All seconds equal: the first steps take the earliest seconds, the last step the last
        // second (dp.pyx keeps the path ending on the last step unless background is cheaper).
        let sims = vec![vec![0.0f32; 3]; 6];
        let lp = log_probs(&sims, None).expect("ok");
        assert_eq!(align_ordered(&lp).expect("ok"), vec![0, 1, 5]);
        // A single step: the last second.
        let lp = log_probs(&vec![vec![1.0f32]; 4], None).expect("ok");
        assert_eq!(align_ordered(&lp).expect("ok"), vec![3]);
        // Unordered ties: the earliest second.
        assert_eq!(
            align_unordered(&log_probs(&sims, None).expect("ok")),
            vec![0, 0, 0]
        );
    }

    #[test]
    fn matches_crosstask_dp_on_tie_heavy_matrices() {
        // Small integer logits (many exact ties); expected seconds from a line-by-line Python
        // port of DmZhukov/CrossTask `dp.pyx` run on `-log_softmax` of the same matrices.
        #[allow(clippy::type_complexity)]
        let cases: &[(&[&[f32]], &[usize])] = &[
            (
                &[
                    &[2.0, 2.0, 1.0, 2.0],
                    &[2.0, 0.0, 0.0, 0.0],
                    &[0.0, 2.0, 2.0, 0.0],
                    &[1.0, 2.0, 0.0, 2.0],
                    &[0.0, 1.0, 2.0, 0.0],
                    &[1.0, 0.0, 2.0, 0.0],
                    &[2.0, 1.0, 1.0, 1.0],
                ],
                &[1, 2, 4, 6],
            ),
            (
                &[
                    &[1.0, 2.0, 2.0],
                    &[2.0, 2.0, 1.0],
                    &[1.0, 2.0, 1.0],
                    &[0.0, 2.0, 0.0],
                    &[2.0, 1.0, 0.0],
                    &[0.0, 1.0, 0.0],
                ],
                &[1, 3, 5],
            ),
            (&[&[2.0], &[1.0], &[2.0], &[2.0], &[2.0]], &[4]),
            (
                &[
                    &[1.0, 0.0, 1.0],
                    &[1.0, 0.0, 2.0],
                    &[0.0, 0.0, 0.0],
                    &[2.0, 2.0, 2.0],
                    &[0.0, 2.0, 1.0],
                    &[1.0, 0.0, 1.0],
                ],
                &[0, 4, 5],
            ),
            (
                &[
                    &[0.0, 1.0, 0.0, 2.0],
                    &[2.0, 0.0, 1.0, 2.0],
                    &[2.0, 2.0, 1.0, 0.0],
                    &[2.0, 1.0, 0.0, 0.0],
                    &[1.0, 2.0, 1.0, 1.0],
                    &[2.0, 2.0, 1.0, 1.0],
                    &[1.0, 0.0, 0.0, 1.0],
                ],
                &[3, 4, 5, 6],
            ),
            (
                &[
                    &[0.0, 0.0],
                    &[0.0, 1.0],
                    &[2.0, 1.0],
                    &[1.0, 1.0],
                    &[2.0, 1.0],
                    &[1.0, 1.0],
                ],
                &[2, 5],
            ),
            (
                &[
                    &[1.0, 1.0, 2.0],
                    &[2.0, 0.0, 1.0],
                    &[1.0, 1.0, 0.0],
                    &[0.0, 1.0, 2.0],
                    &[0.0, 1.0, 2.0],
                    &[2.0, 0.0, 0.0],
                ],
                &[1, 2, 3],
            ),
            (
                &[
                    &[0.0, 1.0, 2.0],
                    &[0.0, 1.0, 1.0],
                    &[0.0, 2.0, 2.0],
                    &[1.0, 2.0, 1.0],
                ],
                &[0, 1, 2],
            ),
        ];
        for (sims, expected) in cases {
            let lp = log_probs(&m(sims), None).expect("ok");
            assert_eq!(
                align_ordered(&lp).expect("ok"),
                expected.to_vec(),
                "{sims:?}"
            );
        }
    }

    #[test]
    fn as_many_steps_as_seconds_gives_each_its_second() {
        let sims = m(&[&[0.0, 3.0], &[3.0, 0.0]]);
        let lp = log_probs(&sims, None).expect("ok");
        assert_eq!(align_ordered(&lp).expect("ok"), vec![0, 1]);
    }

    #[test]
    fn bad_input_gives_clear_errors() {
        let lp = log_probs(&m(&[&[0.0, 1.0, 2.0]]), None).expect("ok");
        let e = align_ordered(&lp).expect_err("3 steps on 1 second");
        assert_eq!(
            e,
            StepsError::TooManySteps {
                steps: 3,
                seconds: 1
            }
        );
        assert!(e.to_string().contains("3 steps") && e.to_string().contains("1-second"));
        // Unordered mode may place several steps on one second.
        assert!(localize(&m(&[&[0.0, 1.0, 2.0]]), None, false).is_ok());
        assert_eq!(localize(&[], None, true), Err(StepsError::EmptyVideo));
        assert_eq!(
            localize(&m(&[&[], &[]]), None, true),
            Err(StepsError::NoSteps)
        );
        assert_eq!(
            localize(&m(&[&[0.0, 1.0], &[0.0]]), None, true),
            Err(StepsError::Ragged {
                second: 1,
                expected: 2,
                got: 1
            })
        );
        let e = localize(&m(&[&[0.0, 1.0], &[f32::NAN, 0.0]]), None, true).expect_err("NaN");
        assert!(matches!(
            e,
            StepsError::NotFinite {
                second: 1,
                step: 0,
                ..
            }
        ));
        assert_eq!(
            localize(&m(&[&[0.0]]), Some(f32::NAN), true),
            Err(StepsError::BadThreshold)
        );
    }

    #[test]
    fn spans_grow_where_the_step_stays_most_likely_and_never_cross_neighbours() {
        // Step 1 dominates seconds 1..4, step 2 seconds 4..7; seconds 0 and 7 are background
        // (γ = 1 beats both steps there).
        let sims = m(&[
            &[0.0, 0.0],
            &[3.0, 0.0],
            &[4.0, 0.0],
            &[3.0, 0.0],
            &[0.0, 3.0],
            &[0.0, 4.0],
            &[0.0, 3.0],
            &[0.0, 0.0],
        ]);
        let p = localize(&sims, Some(1.0), true).expect("ok");
        assert_eq!((p[0].second, p[0].start, p[0].end), (2, 1, 4));
        assert_eq!((p[1].second, p[1].start, p[1].end), (5, 4, 7));
        assert!(p[0].confidence > 0.9 && p[0].confidence <= 1.0);
        assert_eq!(p[0].similarity, 4.0);
        // Without background the steps' spans reach into the background seconds where they
        // are still the more likely step, but not across each other's second.
        let p = localize(&sims, None, true).expect("ok");
        assert!(p[0].end <= p[1].second && p[1].start > p[0].second);
    }

    #[test]
    fn unordered_mode_places_each_step_where_it_fits_best() {
        let sims = m(&[&[0.0, 6.0, 0.0], &[0.0, 0.0, 6.0], &[6.0, 0.0, 0.0]]);
        let p = localize(&sims, None, false).expect("ok");
        let seconds: Vec<usize> = p.iter().map(|p| p.second).collect();
        assert_eq!(seconds, vec![2, 0, 1]);
        // Ordered, the same list must keep its order: 0, 1, 2.
        let p = localize(&sims, None, true).expect("ok");
        let seconds: Vec<usize> = p.iter().map(|p| p.second).collect();
        assert_eq!(seconds, vec![0, 1, 2]);
    }

    #[test]
    fn labelling_uses_the_strict_background_threshold() {
        let z = vec![vec![1.0, 0.0], vec![0.5, 0.5]];
        // γ = max off-diagonal dot = 0.5.
        assert_eq!(background_threshold(&z), Some(0.5));
        assert_eq!(background_threshold(&z[..1]), None);
        let sims = m(&[&[0.4, 0.2], &[0.5, 0.1], &[0.6, 0.9], &[0.7, 0.7]]);
        let labels = label_seconds(&sims, 0.5).expect("ok");
        // 0.4 and 0.5 are not above γ: background; then step 2, then the first of a tie.
        assert_eq!(labels, vec![None, None, Some(1), Some(0)]);
        assert_eq!(
            label_seconds(&sims, f32::NAN),
            Err(StepsError::BadThreshold)
        );
    }

    #[test]
    fn pasted_lists_lose_numbering_and_bullets() {
        let text = "1. Remove the screws\n2) Lift the cover\n\n  Step 3: Unplug the battery\n\
                    - clean the contacts\n* put it back\n• close the lid\n(7) test it\n\
                    step 8 done\n9 - label it\n3D print the case\n1.5 cups of flour\n  \n-\n\
                    Stepping back\n10:\tcheck";
        assert_eq!(
            parse_step_list(text),
            vec![
                "Remove the screws",
                "Lift the cover",
                "Unplug the battery",
                "clean the contacts",
                "put it back",
                "close the lid",
                "test it",
                "done",
                "label it",
                "3D print the case",
                "1.5 cups of flour",
                "Stepping back",
                "check",
            ]
        );
        assert!(parse_step_list("\n \n").is_empty());
        // Windows line endings.
        assert_eq!(parse_step_list("1. a\r\n2. b\r\n"), vec!["a", "b"]);
    }
}
