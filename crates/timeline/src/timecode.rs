//! SMPTE timecode: frame counts <-> `HH:MM:SS:FF` labels, non-drop and drop-frame.

use std::fmt;

use crate::TimelineError;

/// A frame rate as an exact fraction `num / den` frames per second (NTSC rates are
/// `24000/1001`, `30000/1001`, `60000/1001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRate {
    pub num: u32,
    pub den: u32,
}

/// The NTSC ("x/1001") rates a measured rate snaps to.
const NTSC: [u32; 5] = [24, 30, 48, 60, 120];

impl FrameRate {
    /// `num / den`; `None` when either is 0.
    pub fn new(num: u32, den: u32) -> Option<Self> {
        (num > 0 && den > 0).then_some(Self { num, den })
    }

    /// The exact rate a measured one (ffmpeg's average rate, in frames per second) stands for:
    /// within 0.01 of an NTSC rate (23.976, 29.97, 47.952, 59.94, 119.88) that rate, within
    /// 0.01 of a whole number that number, else the rate to a thousandth.
    pub fn from_fps(fps: f64) -> Result<Self, TimelineError> {
        if !fps.is_finite() || !(1.0..=1000.0).contains(&fps) {
            return Err(TimelineError::BadRate(format!("{fps}")));
        }
        for n in NTSC {
            if (fps - f64::from(n) * 1000.0 / 1001.0).abs() < 0.01 {
                return Ok(Self {
                    num: n * 1000,
                    den: 1001,
                });
            }
        }
        if (fps - fps.round()).abs() < 0.01 {
            return Ok(Self {
                num: fps.round() as u32,
                den: 1,
            });
        }
        Ok(Self {
            num: (fps * 1000.0).round() as u32,
            den: 1000,
        })
    }

    /// Frames per second.
    pub fn fps(self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// The frames a timecode second counts: the rate rounded (30 for 29.97).
    pub fn timebase(self) -> u32 {
        ((f64::from(self.num) / f64::from(self.den)).round() as u32).max(1)
    }

    /// Frame numbers skipped each minute (but every tenth) in drop-frame timecode: 2 at 29.97,
    /// 4 at 59.94; `None` where drop-frame does not exist.
    pub fn drop_per_minute(self) -> Option<u32> {
        match (self.num, self.den) {
            (30000, 1001) => Some(2),
            (60000, 1001) => Some(4),
            _ => None,
        }
    }

    /// The frame at `seconds`, to the nearest frame.
    pub fn frame_at(self, seconds: f64) -> u64 {
        (seconds.max(0.0) * f64::from(self.num) / f64::from(self.den)).round() as u64
    }

    /// `frames` as an exact FCPXML time: `"N/Ds"` in lowest terms, `"Ns"` when whole.
    pub fn rational_time(self, frames: u64) -> String {
        let (n, d) = (frames * u64::from(self.den), u64::from(self.num));
        let g = gcd(n, d);
        let (n, d) = (n / g, d / g);
        if d == 1 {
            format!("{n}s")
        } else {
            format!("{n}/{d}s")
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl fmt::Display for FrameRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            let fps = self.fps();
            write!(f, "{}", format!("{fps:.3}").trim_end_matches('0'))
        }
    }
}

/// A timecode: a frame count at a rate, labelled drop-frame or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timecode {
    pub frames: u64,
    pub rate: FrameRate,
    /// Drop-frame labels (only where the rate has them).
    pub drop: bool,
}

impl Timecode {
    /// Frame `frames` at `rate`, drop-frame where the rate has it and `drop` asks for it.
    pub fn new(frames: u64, rate: FrameRate, drop: bool) -> Self {
        let drop = drop && rate.drop_per_minute().is_some();
        Self { frames, rate, drop }
    }

    /// Parses `HH:MM:SS:FF` (non-drop) or `HH:MM:SS;FF` (drop-frame; `.` and `,` accepted as
    /// the last separator too) at `rate`.
    pub fn parse(label: &str, rate: FrameRate) -> Result<Self, TimelineError> {
        let bad = || TimelineError::BadTimecode(label.to_string());
        let bytes = label.as_bytes();
        if bytes.len() != 11 || bytes[2] != b':' || bytes[5] != b':' {
            return Err(bad());
        }
        let drop = match bytes[8] {
            b':' => false,
            b';' | b'.' | b',' => true,
            _ => return Err(bad()),
        };
        let field = |at: usize| -> Result<u64, TimelineError> {
            let s = &label[at..at + 2];
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        let (hh, mm, ss, ff) = (field(0)?, field(3)?, field(6)?, field(9)?);
        let tb = u64::from(rate.timebase());
        if mm > 59 || ss > 59 || ff >= tb {
            return Err(bad());
        }
        let minutes = hh * 60 + mm;
        let nominal = (minutes * 60 + ss) * tb + ff;
        if !drop {
            return Ok(Self::new(nominal, rate, false));
        }
        let Some(d) = rate.drop_per_minute().map(u64::from) else {
            return Err(bad());
        };
        if ss == 0 && ff < d && mm % 10 != 0 {
            return Err(TimelineError::DroppedLabel {
                label: label.to_string(),
                rate,
            });
        }
        Ok(Self::new(
            nominal - d * (minutes - minutes / 10),
            rate,
            true,
        ))
    }

    /// `(hours, minutes, seconds, frames)` of the label (hours wrap at 24).
    pub fn fields(self) -> (u64, u64, u64, u64) {
        let tb = u64::from(self.rate.timebase());
        let mut f = self.frames;
        if let (true, Some(d)) = (self.drop, self.rate.drop_per_minute()) {
            // Each ten minutes hold 9 minutes that skip `d` labels; count the labels skipped
            // before this frame and add them.
            let d = u64::from(d);
            let per_ten = tb * 600 - 9 * d;
            let per_minute = tb * 60 - d;
            let (tens, rest) = (f / per_ten, f % per_ten);
            f += 9 * d * tens;
            if rest >= d {
                f += d * ((rest - d) / per_minute);
            }
        }
        let ff = f % tb;
        let secs = f / tb;
        ((secs / 3600) % 24, (secs / 60) % 60, secs % 60, ff)
    }
}

impl fmt::Display for Timecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (hh, mm, ss, ff) = self.fields();
        let sep = if self.drop { ';' } else { ':' };
        write!(f, "{hh:02}:{mm:02}:{ss:02}{sep}{ff:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(fps: f64) -> FrameRate {
        FrameRate::from_fps(fps).expect("a usable rate")
    }

    #[test]
    fn measured_rates_snap_to_exact_ones() {
        assert_eq!(
            rate(23.976_023),
            FrameRate {
                num: 24000,
                den: 1001
            }
        );
        assert_eq!(
            rate(29.97),
            FrameRate {
                num: 30000,
                den: 1001
            }
        );
        assert_eq!(
            rate(59.940_06),
            FrameRate {
                num: 60000,
                den: 1001
            }
        );
        assert_eq!(rate(25.0), FrameRate { num: 25, den: 1 });
        assert_eq!(
            rate(12.5),
            FrameRate {
                num: 12500,
                den: 1000
            }
        );
        assert!(FrameRate::from_fps(0.0).is_err());
        assert!(FrameRate::from_fps(f64::NAN).is_err());
        assert_eq!(rate(29.97).to_string(), "29.97");
        assert_eq!(rate(23.976).to_string(), "23.976");
        assert_eq!(rate(25.0).to_string(), "25");
    }

    /// Labels from the SMPTE 12M drop-frame rules: at 29.97 the labels ;00 and ;01 are skipped
    /// at every minute but each tenth; at 59.94 ;00 to ;03.
    #[test]
    fn drop_frame_labels_follow_smpte() {
        let df = |f: u64, fps: f64| Timecode::new(f, rate(fps), true).to_string();
        assert_eq!(df(0, 29.97), "00:00:00;00");
        assert_eq!(df(1799, 29.97), "00:00:59;29");
        assert_eq!(df(1800, 29.97), "00:01:00;02");
        assert_eq!(df(17_981, 29.97), "00:09:59;29");
        assert_eq!(df(17_982, 29.97), "00:10:00;00");
        assert_eq!(df(107_892, 29.97), "01:00:00;00");
        assert_eq!(df(3599, 59.94), "00:00:59;59");
        assert_eq!(df(3600, 59.94), "00:01:00;04");
        assert_eq!(df(215_784, 59.94), "01:00:00;00");
        // Non-drop at the same rate counts every label.
        assert_eq!(
            Timecode::new(1800, rate(29.97), false).to_string(),
            "00:01:00:00"
        );
        // Drop-frame asked of a rate without it gives non-drop labels.
        assert_eq!(
            Timecode::new(25, rate(25.0), true).to_string(),
            "00:00:01:00"
        );
    }

    #[test]
    fn every_label_round_trips_at_the_editors_rates() {
        // 23.976 and 25 non-drop, 29.97 and 59.94 drop-frame: every frame of the first 11
        // minutes and a stretch past 10 hours parses back to itself.
        for (fps, drop) in [(23.976, false), (25.0, false), (29.97, true), (59.94, true)] {
            let r = rate(fps);
            let far = u64::from(r.timebase()) * 36_000;
            for f in (0..r.frame_at(660.0)).chain(far..far + 5000) {
                let tc = Timecode::new(f, r, drop);
                let label = tc.to_string();
                assert_eq!(
                    Timecode::parse(&label, r),
                    Ok(tc),
                    "{fps}: frame {f} = {label}"
                );
            }
        }
    }

    #[test]
    fn bad_labels_are_refused() {
        let r = rate(29.97);
        assert!(matches!(
            Timecode::parse("00:01:00;00", r),
            Err(TimelineError::DroppedLabel { .. })
        ));
        assert!(Timecode::parse("00:10:00;00", r).is_ok());
        for bad in [
            "00:00:00:30",
            "00:60:00:00",
            "0:00:00:00",
            "00:00:00-00",
            "aa:00:00:00",
        ] {
            assert!(Timecode::parse(bad, r).is_err(), "{bad}");
        }
        // Drop-frame labels at a rate without drop-frame.
        assert!(Timecode::parse("00:00:01;00", rate(25.0)).is_err());
    }

    #[test]
    fn rational_times_are_exact() {
        assert_eq!(rate(29.97).rational_time(30), "1001/1000s");
        assert_eq!(rate(25.0).rational_time(50), "2s");
        assert_eq!(rate(25.0).rational_time(0), "0s");
        assert_eq!(rate(23.976).rational_time(1), "1001/24000s");
    }
}
