//! Links to a moment: `vclip://open?v=<content hash>&t=<seconds>`. The content hash names the
//! video wherever its file is now (a moved file keeps its links), and the link opens the window
//! at that second (`vclip-app LINK`, `vclip open LINK`).

use serde::Serialize;

use crate::store::{EngineError, Result};
use crate::Engine;

/// The URL scheme of moment links.
pub const SCHEME: &str = "vclip";

/// A moment a link points at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MomentLink {
    /// The video's content hash.
    pub hash: String,
    /// Seconds from the start.
    pub at_s: f64,
}

impl MomentLink {
    /// `vclip://open?v=HASH&t=SECONDS` (seconds to the millisecond, without trailing zeros).
    pub fn to_url(&self) -> String {
        let t = format!("{:.3}", self.at_s.max(0.0));
        let t = t.trim_end_matches('0').trim_end_matches('.');
        format!("{SCHEME}://open?v={}&t={t}", self.hash)
    }

    /// Reads a link made by [`MomentLink::to_url`] (the parameters in any order; `t` optional,
    /// 0 when absent).
    pub fn parse(link: &str) -> Result<Self> {
        let bad = |why: &str| EngineError::Invalid(format!("{link:?} is not a VClip link: {why}"));
        let rest = link
            .trim()
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix("://"))
            .ok_or_else(|| bad("it does not start with vclip://"))?;
        let query = rest
            .trim_start_matches('/')
            .strip_prefix("open")
            .map(|q| q.trim_start_matches('/'))
            .and_then(|q| q.strip_prefix('?'))
            .ok_or_else(|| bad("expected vclip://open?v=…&t=…"))?;
        let (mut hash, mut at_s) = (None, 0.0);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "v" => hash = Some(v.to_ascii_lowercase()),
                "t" => {
                    at_s = v
                        .parse::<f64>()
                        .ok()
                        .filter(|t| t.is_finite() && *t >= 0.0)
                        .ok_or_else(|| bad("t is not a number of seconds"))?
                }
                _ => {}
            }
        }
        let hash = hash.ok_or_else(|| bad("no video (v=)"))?;
        if hash.len() < 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("v is not a content hash"));
        }
        Ok(Self { hash, at_s })
    }
}

impl Engine {
    /// The link to second `at_s` of the video `what` (id, content hash or path).
    pub fn moment_link(&self, what: &str, at_s: f64) -> Result<MomentLink> {
        let v = self.find(what)?;
        let end = v.duration_s.unwrap_or(f64::INFINITY);
        if !at_s.is_finite() || at_s < 0.0 || at_s > end {
            return Err(EngineError::Invalid(format!(
                "{}: {at_s} s is outside the video ({end:.1} s)",
                v.path
            )));
        }
        Ok(MomentLink { hash: v.hash, at_s })
    }

    /// The video a link points at in this library, and the second (clamped to the video).
    pub fn resolve_link(&self, link: &MomentLink) -> Result<(vclip_index::Video, f64)> {
        let v = self
            .with_catalogue(|c| c.video_by_hash(&link.hash))?
            .ok_or_else(|| EngineError::NotFound(link.to_url()))?;
        let at = v.duration_s.map_or(link.at_s, |d| link.at_s.min(d));
        Ok((v, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip_and_bad_ones_are_refused() {
        let l = MomentLink {
            hash: "ab".repeat(32),
            at_s: 83.25,
        };
        let url = l.to_url();
        assert_eq!(url, format!("vclip://open?v={}&t=83.25", "ab".repeat(32)));
        assert_eq!(MomentLink::parse(&url).expect("parses"), l);
        let whole = MomentLink {
            at_s: 12.0,
            ..l.clone()
        };
        assert!(whole.to_url().ends_with("&t=12"));
        let reordered = format!("vclip://open/?t=1.5&v={}", "CD".repeat(10));
        let r = MomentLink::parse(&reordered).expect("parses");
        assert_eq!((r.hash.as_str(), r.at_s), ("cd".repeat(10).as_str(), 1.5));
        for bad in [
            "https://open?v=abcdabcdabcdabcd",
            "vclip://play?v=abcdabcdabcdabcd",
            "vclip://open?t=3",
            "vclip://open?v=xyz",
            "vclip://open?v=abcdabcdabcdabcd&t=-1",
            "vclip://open?v=abcdabcdabcdabcd&t=soon",
        ] {
            assert!(MomentLink::parse(bad).is_err(), "{bad}");
        }
    }
}
