//! One frame per second for per-frame models (CLIP ViT-B/32): a video file in, one RGB frame of
//! 224×224 per second of video out, decoding as little of the video as it can while staying exact.
//!
//! **Which frame.** Second `k` is represented by the frame on screen at its middle, `t = k + 0.5 s`
//! (from the first frame, on the decoder's time axis where the container starts at 0): the last
//! frame whose timestamp, rounded to the nearest 1/30 s as ffmpeg's `fps` filter rounds, is at or
//! before that time. That is exactly frame 15 of the 30 fps clip `k` that [`crate::ClipDecoder`]
//! makes for S3D ([`crate::Clip::sample_frame`]), so the two families see the same moment of each
//! second and one decoding pass can feed both. Variable frame rates follow from the rule (a frame
//! shown for several seconds represents each of them). The last, partial second is represented
//! by the video's last frame when the video ends before its middle (as the clip's last decoded
//! frame), so there is one frame per clip: `ceil(duration)` frames.
//!
//! **Pixels.** Display rotation first (as the ffmpeg CLI's autorotate), then the short side scaled
//! to 224 with bicubic interpolation (long side truncated) and a 224×224 centre crop, RGB24: CLIP's
//! preprocessing (`Resize(224, bicubic)`, `CenterCrop(224)`) with VideoCLIP's rounding of the crop
//! offset (`int`, where torchvision rounds: they differ by one pixel when the margin is odd) and
//! ffmpeg's swscale bicubic instead of PIL's (both filter over the whole downscaled footprint).
//! Only the frames kept are scaled and converted.
//!
//! **Speed** ([`SampleOptions`], measured by `vclip bench decode FILE --per-second`). A per-second
//! sampler needs one frame in ~30, but a frame can only be decoded after the frames it references.
//! Exact savings, on by default:
//! - *non-reference frames*: a frame no other frame references (most B-frames) is decoded only when
//!   it is the one taken; the others are sent with `skip_frame = nonref`. Which packet will be taken
//!   is known from packet timestamps before decoding, with a lookahead of ~2 s of packets. H.264
//!   and MPEG-1/2/4 part 2 only: HEVC's "non-reference" pictures can be referenced across
//!   temporal sub-layers.
//! - *GOP tails*: after the last frame taken before the next closed keyframe (H.264/HEVC IDR,
//!   VP8/VP9/AV1 keyframes, every frame of intra-only codecs), the rest of the GOP is not decoded at
//!   all. This needs the keyframe inside the lookahead, so it helps GOPs up to ~2 s long (phones,
//!   screen recorders); long GOPs get the non-reference savings only.
//!
//! Options measured and left off by default:
//! - `seek`: seeking to the keyframe before each second's frame when the index says it lies ahead
//!   of the reading position. Exact, but with short GOPs the lookahead already skips the same
//!   packets without a seek (and a seek flushes the codec's frame threads), and with long GOPs the
//!   keyframe is rarely ahead. Seeking blindly to every second would re-decode long GOPs.
//! - `skip_loop_filter`: no deblocking on any frame. Faster, not exact: the error of each
//!   reference frame carries into the next until the next keyframe (about 1/255 on average at
//!   224×224 on the benchmark files).
//! - `keyframe_tolerance_ms` (approximate mode): a closed keyframe within the tolerance of a
//!   second's middle represents that second instead of the exact frame, so with GOPs of up to
//!   2 s and 500 ms only keyframes are decoded. The frame is at most the tolerance away from the
//!   middle and no longer matches the clip decoder's.
//! - Reduced-resolution decoding (`lowres`) does not exist for H.264, HEVC, VP9 or AV1 in ffmpeg
//!   (only a few old codecs: MJPEG, MPEG-4 part 2, …), so it is not offered.
//!
//! **Damage** is handled as in [`crate::ClipDecoder`]: undecodable packets are skipped and counted,
//! a read error or an early end marks the report truncated, and errors name the file.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use ffmpeg::codec::threading;
use ffmpeg::format::context::Input;
use ffmpeg::util::frame::video::Video as VideoFrame;
use ffmpeg::{Discard, Rational};
use ffmpeg_next as ffmpeg;

use crate::decode::{
    close_report, no_frames_kind, DecodeReport, VideoInput, CLIP_SIZE, FPS,
    MAX_CONSECUTIVE_READ_ERRORS,
};
use crate::error::{ff, MediaError, MediaErrorKind};
use crate::ffmpeg_util::{rotate_filter, seconds, video_graph};
use crate::geometry::scaled_size;
use crate::probe::VideoInfo;

/// How the codec spreads decoding over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Threading {
    /// Several frames at once (the ffmpeg CLI's default; adds a few frames of latency).
    Frame,
    /// The slices of one frame at once (only helps files encoded with several slices).
    Slice,
}

/// How [`FrameSampler`] picks, shapes and decodes. The defaults are the fastest exact settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SampleOptions {
    /// Output side: short side scaled to this, then centre-cropped to `size`×`size`.
    pub size: u32,
    /// The grid frame times are rounded to (the clip decoder's rate, so that second `k`'s frame
    /// is frame `fps / 2` of clip `k`).
    pub fps: u32,
    /// Decoder threads; 0 lets ffmpeg pick (one per core, plus one for frame threads).
    pub threads: usize,
    pub threading: Threading,
    /// Decode a non-reference frame only when it is the one taken (exact; H.264 and MPEG-1/2/4
    /// part 2 only, ignored for other codecs).
    pub skip_nonref: bool,
    /// Do not decode the rest of a GOP after its last frame taken (exact; closed GOPs only).
    pub skip_gop_tails: bool,
    /// Seek to the keyframe before the next second's frame when it lies ahead of the reading
    /// position (exact for closed GOPs; needs a seekable container with an index).
    pub seek: bool,
    /// Skip H.264's deblocking filter on every frame (not exact: see the module docs).
    pub skip_loop_filter: bool,
    /// Approximate mode (0: exact): a second may be represented by a closed keyframe (which
    /// decodes alone) within this many milliseconds of its middle instead of the exact frame, the
    /// nearest one; seconds without one get the exact frame. With GOPs of up to 2 s and 500 ms,
    /// only keyframes are decoded. The frame taken is then at most this far from the middle
    /// (`SampleReport::max_offset_s`), and neighbouring seconds may share a keyframe. Works with
    /// `skip_gop_tails`.
    pub keyframe_tolerance_ms: u32,
    /// What a frame is made into: the models' square RGB crop (the default), or the whole
    /// picture in gray for reading the text on it.
    pub shape: FrameShape,
}

/// What [`FrameSampler`] makes of each frame taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub enum FrameShape {
    /// Short side scaled to `size`, centre-cropped to `size`×`size`, RGB24 (what the models
    /// see; [`frame_filter_spec`]).
    #[default]
    Square,
    /// The whole picture upright, 8-bit gray, scaled (aspect kept) to its own height clamped
    /// to `[min_height, max_height]`: small text stays legible, an 8K frame stays affordable.
    Gray { min_height: u32, max_height: u32 },
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            size: CLIP_SIZE,
            fps: FPS,
            threads: 0,
            threading: Threading::Frame,
            skip_nonref: true,
            skip_gop_tails: true,
            seek: false,
            skip_loop_filter: false,
            keyframe_tolerance_ms: 0,
            shape: FrameShape::Square,
        }
    }
}

impl SampleOptions {
    /// Every frame decoded, frame threads: the reference the fast settings are checked against.
    pub fn decode_all() -> Self {
        Self {
            skip_nonref: false,
            skip_gop_tails: false,
            seek: false,
            skip_loop_filter: false,
            keyframe_tolerance_ms: 0,
            ..Self::default()
        }
    }

    /// Whether these options give exactly the frames of [`SampleOptions::decode_all`] (for
    /// undamaged files whose frame timestamps are those of their packets).
    pub fn is_exact(&self) -> bool {
        !self.skip_loop_filter && self.keyframe_tolerance_ms == 0
    }
}

/// The frame of one second.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledFrame {
    /// The second `k` this frame represents (`[k, k+1)` from the first frame).
    pub second: usize,
    /// Presentation time of the frame taken, in seconds on the decoder's axis (container start 0).
    pub time_s: f64,
    /// The pixels, row-major without padding: `size * size * 3` bytes of RGB24 for
    /// [`FrameShape::Square`], `width * height` bytes of gray for [`FrameShape::Gray`].
    pub rgb: Vec<u8>,
    pub size: u32,
    /// The picture's size in pixels (`size`×`size` when square).
    pub width: u32,
    pub height: u32,
}

impl SampledFrame {
    /// The frame as (C=3, H, W) floats in [0, 1] (`/255`; CLIP's mean/std is the model's).
    pub fn to_chw_f32(&self) -> Vec<f32> {
        let hw = self.size as usize * self.size as usize;
        let mut out = vec![0f32; 3 * hw];
        for (p, px) in self.rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * hw + p] = f32::from(px[c]) / 255.0;
            }
        }
        out
    }
}

/// What happened while sampling, for the caller to report and for benchmarks.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SampleReport {
    /// As for the clip decoder; `output_frames` and `clips` count the frames sampled (seconds).
    pub decode: DecodeReport,
    /// Video packets read from the file.
    pub packets: u64,
    /// Of which keyframes (random-access points), for the GOP length.
    pub keyframes: u64,
    /// Packets sent with `skip_frame = nonref` (the codec still decodes the reference ones).
    pub nonref_skippable: u64,
    /// Packets never sent to the codec (GOP tails, packets passed over by a seek).
    pub dropped_packets: u64,
    pub seeks: u64,
    /// Seconds given a later frame than the exact one (a seek that landed after it, in an open
    /// GOP or an inaccurate index). Zero for exact settings on closed-GOP files.
    pub late_samples: u64,
    /// The largest distance between a second's middle and the time of the frame taken for it
    /// (up to a frame's duration when exact; up to the tolerance in approximate mode).
    pub max_offset_s: f64,
}

/// Which keyframes start a closed GOP: no later frame (in decoding order) references an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyRule {
    /// Unknown codec or open GOPs possible (MPEG-2, MPEG-4 part 2, …): never drop GOP tails.
    Never,
    /// Intra-only codecs: every frame.
    Every,
    /// Keyframes always reset every reference (VP8, VP9, AV1).
    KeyFlag,
    /// H.264 IDR pictures (NAL type 5); `Some(n)`: `n`-byte length prefixes (avcC), else Annex B.
    H264(Option<usize>),
    /// HEVC IDR pictures (NAL types 19, 20), length prefixes as for H.264 (hvcC).
    Hevc(Option<usize>),
}

struct Queued {
    packet: ffmpeg::Packet,
    /// Presentation timestamp shifted so the container starts at 0, in the stream's time base.
    pts: Option<i64>,
    closed_key: bool,
}

/// A decoded frame held back until it is known whether it is taken.
struct Held {
    frame: VideoFrame,
    /// `None`: nothing held.
    slot: Option<i64>,
    pts: i64,
}

impl Default for Held {
    fn default() -> Self {
        Self {
            frame: VideoFrame::empty(),
            slot: None,
            pts: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Cand,
    Prev,
    /// The frame just decoded, before it is held.
    Cur,
}

/// Packets remembered after they left the lookahead, for the decision on later ones.
const HISTORY: usize = 64;

/// A streaming sampler yielding one [`SampledFrame`] per second of video. See the module docs.
///
/// Errors that end decoding are returned once from [`Iterator::next`]; damage that can be skipped
/// is recorded in [`FrameSampler::report`] instead.
pub struct FrameSampler {
    path: PathBuf,
    opts: SampleOptions,
    input: Input,
    info: VideoInfo,
    container_duration_s: Option<f64>,
    stream_index: usize,
    time_base: Rational,
    ts_offset: i64,
    default_duration: i64,
    decoder: ffmpeg::decoder::Video,
    graph: Option<ffmpeg::filter::Graph>,
    last_pts: Option<i64>,
    last_duration: i64,
    /// The latest decoded frame: the one taken for the next second unless a later frame rounds
    /// to a slot at or before that second's middle.
    cand: Held,
    /// The frame before it: the last second's frame when the last frame rounds to the end.
    prev: Held,
    cur: VideoFrame,
    filtered: VideoFrame,
    /// Width and height of the frames made (see [`FrameShape`]).
    shaped: (u32, u32),
    /// Slot (1/fps units) of the first frame: second `k`'s middle is `origin + fps*k + fps/2`.
    origin: Option<i64>,
    next_second: usize,
    ready: VecDeque<SampledFrame>,
    report: SampleReport,
    done: bool,
    queue: VecDeque<Queued>,
    history: VecDeque<i64>,
    /// Timestamps of the latest closed keyframes that left the lookahead.
    keys: VecDeque<i64>,
    lookahead: usize,
    key_rule: KeyRule,
    skipping: bool,
    /// Highest byte position of a packet read so far, for the seek decision.
    read_pos: i64,
    /// After a seek, until a packet after the reading position before it is read: that position,
    /// and whether packets before it were passed over (the seek landed behind).
    seek_from: Option<(i64, bool)>,
    /// The latest presentation timestamp read and the end of that packet (timestamp plus
    /// duration): the end of the video, known before the codec has given its last frames.
    max_pts: Option<i64>,
    max_end: i64,
    seek_checked: Option<usize>,
}

impl std::fmt::Debug for FrameSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSampler")
            .field("path", &self.path)
            .field("opts", &self.opts)
            .field("info", &self.info)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// Opens `path` for one-frame-per-second sampling: see [`FrameSampler`] and the module docs.
pub fn decode_per_second(path: &Path, opts: SampleOptions) -> Result<FrameSampler, MediaError> {
    FrameSampler::open(path, opts)
}

impl FrameSampler {
    /// Opens `path` and prepares its best video stream.
    pub fn open(path: &Path, opts: SampleOptions) -> Result<Self, MediaError> {
        let kind = match opts.threading {
            Threading::Frame => threading::Type::Frame,
            Threading::Slice => threading::Type::Slice,
        };
        let fps = opts.fps.max(1);
        let VideoInput {
            input,
            info,
            container_duration_s,
            stream_index,
            time_base,
            ts_offset,
            default_duration,
            mut decoder,
        } = VideoInput::open(path, kind, opts.threads, fps)?;
        if opts.skip_loop_filter {
            decoder.skip_loop_filter(Discard::All);
        }
        let key_rule = key_rule(&decoder);
        // `skip_frame = nonref` drops exactly the unreferenced frames only where "non-reference"
        // means it: H.264 (nal_ref_idc 0) and the MPEG B-frames. HEVC's "sub-layer non-reference"
        // pictures may still be referenced from a higher temporal sub-layer, so not there.
        let opts = SampleOptions {
            skip_nonref: opts.skip_nonref && nonref_is_unreferenced(decoder.id()),
            ..opts
        };
        // About two seconds of packets (bounded memory: a few MB at camera bit rates).
        let frame_s = seconds(default_duration, time_base).max(1e-3);
        let lookahead = if opts.skip_nonref || opts.skip_gop_tails {
            ((2.0 / frame_s).ceil() as usize).clamp(16, 256)
        } else {
            0
        };
        Ok(Self {
            path: path.to_path_buf(),
            opts: SampleOptions { fps, ..opts },
            input,
            info,
            container_duration_s,
            stream_index,
            time_base,
            ts_offset,
            default_duration,
            decoder,
            graph: None,
            last_pts: None,
            last_duration: default_duration,
            cand: Held::default(),
            prev: Held::default(),
            cur: VideoFrame::empty(),
            filtered: VideoFrame::empty(),
            shaped: (opts.size, opts.size),
            origin: None,
            next_second: 0,
            ready: VecDeque::new(),
            report: SampleReport::default(),
            done: false,
            queue: VecDeque::new(),
            history: VecDeque::new(),
            keys: VecDeque::new(),
            lookahead,
            key_rule,
            skipping: false,
            read_pos: -1,
            seek_from: None,
            max_pts: None,
            max_end: 0,
            seek_checked: None,
        })
    }

    /// The video stream being decoded.
    pub fn info(&self) -> &VideoInfo {
        &self.info
    }

    /// The number of frames (seconds) the container's duration promises, for progress bars.
    pub fn expected_seconds(&self) -> Option<u64> {
        let fps = f64::from(self.opts.fps);
        self.container_duration_s
            .map(|d| ((d * fps).round() / fps).ceil() as u64)
    }

    /// The codec's reduced-resolution decoding levels (`lowres`: 1 = half size …): 0 for H.264,
    /// HEVC, VP9 and AV1, which cannot decode at a reduced size.
    pub fn codec_max_lowres(&self) -> u8 {
        // SAFETY: the opened context points at its static codec description.
        unsafe {
            let codec = (*self.decoder.as_ptr()).codec;
            if codec.is_null() {
                0
            } else {
                (*codec).max_lowres
            }
        }
    }

    /// What happened so far; complete once the iterator has returned `None`.
    pub fn report(&self) -> &SampleReport {
        &self.report
    }

    fn err(&self, kind: MediaErrorKind) -> MediaError {
        MediaError::new(&self.path, kind)
    }

    /// `ts` (stream time base, shifted) rounded to the 1/fps grid, as the `fps` filter rounds
    /// (`av_rescale_q_rnd` with `AV_ROUND_NEAR_INF`).
    fn slot(&self, ts: i64) -> i64 {
        let b = i128::from(self.time_base.numerator()) * i128::from(self.opts.fps);
        let c = i128::from(self.time_base.denominator().max(1));
        let a = i128::from(ts);
        let r = if a >= 0 {
            (a * b + c / 2) / c
        } else {
            -((-a * b + c / 2) / c)
        };
        r as i64
    }

    /// The slot of second `k`'s middle.
    fn target(&self, origin: i64, k: usize) -> i64 {
        let fps = i64::from(self.opts.fps);
        origin + fps * k as i64 + fps / 2
    }

    /// The first second's middle at or after `slot`.
    fn target_at_or_after(&self, origin: i64, slot: i64) -> i64 {
        let fps = i64::from(self.opts.fps);
        let first = origin + fps / 2;
        if slot <= first {
            first
        } else {
            first + (slot - first + fps - 1) / fps * fps
        }
    }

    /// The keyframe tolerance in slots (0: exact mode).
    fn tolerance(&self) -> i64 {
        (i64::from(self.opts.keyframe_tolerance_ms) * i64::from(self.opts.fps) + 500) / 1000
    }

    /// Approximate mode: the closed keyframe (timestamp) nearest to slot `target` within the
    /// tolerance, among those known (recent ones and the lookahead); ties go to the earlier one.
    fn nearest_key(&self, target: i64) -> Option<i64> {
        let tol = self.tolerance();
        self.keys
            .iter()
            .copied()
            .chain(
                self.queue
                    .iter()
                    .filter(|q| q.closed_key)
                    .filter_map(|q| q.pts),
            )
            .map(|p| ((self.slot(p) - target).abs(), p))
            .filter(|&(d, _)| d <= tol)
            .min()
            .map(|(_, p)| p)
    }

    /// Whether the frame of a packet with timestamp `pts` can be the one taken for some second,
    /// knowing the timestamps of the packets in the lookahead and the recent history: it cannot
    /// when a later frame rounds to a slot at or before the next second's middle. `end`: at the
    /// end of the file, the slot where the video ends: the last second's frame is then the last
    /// one before it, and the very last frame is always decoded (the end is measured from it).
    fn may_be_taken(&self, origin: i64, pts: i64, end: Option<i64>) -> bool {
        let slot = self.slot(pts);
        let mut target = self.target_at_or_after(origin, slot);
        if let Some(end) = end {
            // Exact mode decodes the last frame: the video's end is measured from it.
            if self.tolerance() == 0 && self.max_pts.is_none_or(|m| pts >= m) {
                return true;
            }
            // No second starts at or after the end; the last one's frame is the last before it.
            if target - i64::from(self.opts.fps / 2) >= end {
                return false;
            }
            target = target.min(end - 1);
            if slot > target {
                return false;
            }
        }
        let later_in_time = self
            .history
            .iter()
            .copied()
            .chain(self.queue.iter().filter_map(|q| q.pts))
            .filter(|&p| p > pts);
        !later_in_time.into_iter().any(|p| self.slot(p) <= target)
    }

    /// Reads packets until at least one frame is ready or the file ends.
    fn pump(&mut self) -> Result<(), MediaError> {
        let mut read_errors = 0usize;
        while self.ready.is_empty() {
            if self.opts.seek {
                self.maybe_seek()?;
            }
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {
                    read_errors = 0;
                    if packet.stream() != self.stream_index {
                        continue;
                    }
                    let pos = packet.position() as i64;
                    if let Some((before, passed_over)) = self.seek_from {
                        if pos >= 0 && pos <= before {
                            // The seek landed among packets already read: pass over them and
                            // go on where reading was, as if there had been no seek.
                            self.seek_from = Some((before, true));
                            continue;
                        }
                        self.seek_from = None;
                        if !passed_over {
                            self.landed_ahead();
                        }
                    }
                    self.report.packets += 1;
                    self.report.keyframes += u64::from(packet.is_key());
                    self.read_pos = self.read_pos.max(pos);
                    let closed_key = packet.is_key() && self.is_closed_key(&packet);
                    let pts = packet.pts().map(|p| p - self.ts_offset);
                    if let Some(p) = pts {
                        if self.max_pts.is_none_or(|m| p >= m) {
                            let d = packet.duration();
                            self.max_pts = Some(p);
                            self.max_end = p + if d > 0 { d } else { self.default_duration };
                        }
                    }
                    self.queue.push_back(Queued {
                        packet,
                        pts,
                        closed_key,
                    });
                    self.process_queue(false)?;
                }
                Err(ffmpeg::Error::Eof) => return self.finish(),
                Err(ffmpeg::Error::InvalidData) if read_errors < MAX_CONSECUTIVE_READ_ERRORS => {
                    read_errors += 1;
                    self.report.decode.corrupt_packets += 1;
                }
                Err(e) => {
                    self.report.decode.truncated = true;
                    self.report
                        .decode
                        .warnings
                        .push(format!("reading stopped early: {e}"));
                    return self.finish();
                }
            }
        }
        Ok(())
    }

    /// Sends, skips or drops the packets whose fate is known. `eof`: no packet follows.
    fn process_queue(&mut self, eof: bool) -> Result<(), MediaError> {
        while !self.queue.is_empty() {
            let Some(origin) = self.origin else {
                // The grid starts at the first decoded frame: until then, decode everything.
                let q = self.queue.pop_front().expect("not empty");
                self.send(q, false)?;
                continue;
            };
            if self.opts.skip_gop_tails {
                let next_key = self
                    .queue
                    .iter()
                    .skip(1)
                    .position(|q| q.closed_key)
                    .map(|i| i + 1);
                if let Some(k) = next_key {
                    self.decide_gop_end(origin, k)?;
                    continue;
                }
            }
            if eof && self.opts.skip_gop_tails && self.tolerance() > 0 {
                // Approximate mode: the end closes the last GOP as a keyframe would.
                let end = self.queue.len();
                self.decide_gop_end(origin, end)?;
                continue;
            }
            if self.queue.len() <= self.lookahead && !eof {
                return Ok(());
            }
            let q = self.queue.pop_front().expect("not empty");
            let end = eof.then(|| self.slot(self.max_end));
            let skip =
                self.opts.skip_nonref && q.pts.is_some_and(|p| !self.may_be_taken(origin, p, end));
            self.send(q, skip)?;
        }
        Ok(())
    }

    /// The packets before the closed keyframe at `queue[key]` (or before the end of the file when
    /// `key` is the queue's length): every frame after it shows later, so each one's fate is
    /// known. Those up to the last one taken are decoded (non-reference ones only when taken);
    /// the rest of the GOP is dropped.
    fn decide_gop_end(&mut self, origin: i64, key: usize) -> Result<(), MediaError> {
        let at_end = key == self.queue.len();
        let end = at_end.then(|| self.slot(self.max_end));
        let taken: Vec<bool> = (0..key)
            .map(|i| {
                self.queue[i]
                    .pts
                    .is_none_or(|p| self.may_be_taken(origin, p, end))
            })
            .collect();
        // A closed GOP in presentation order too: nothing before the key shows after it.
        let closed = if at_end {
            self.queue.iter().all(|q| q.pts.is_some())
        } else {
            self.queue[key].pts.is_some_and(|k| {
                self.queue
                    .iter()
                    .take(key)
                    .all(|q| q.pts.is_some_and(|p| p < k))
                    && self.history.iter().all(|&p| p < k)
            })
        };
        let needed = if closed && self.tolerance() > 0 {
            self.needed_with_keyframes(origin, key, &taken, end)
        } else {
            taken
        };
        let keep = if closed {
            needed.iter().rposition(|&t| t).map_or(0, |i| i + 1)
        } else {
            key
        };
        for (i, t) in needed.into_iter().enumerate() {
            let q = self.queue.pop_front().expect("the key is in the queue");
            if i < keep {
                let skip = self.opts.skip_nonref && !t;
                self.send(q, skip)?;
            } else {
                self.drop_packet(q);
            }
        }
        Ok(())
    }

    /// Approximate mode, for the GOP `queue[..key]`: the packets needed when a second whose
    /// exact frame is here is represented by a keyframe within the tolerance instead, and this
    /// GOP's keyframe stands for the seconds it is the nearest keyframe to.
    fn needed_with_keyframes(
        &self,
        origin: i64,
        key: usize,
        taken: &[bool],
        end: Option<i64>,
    ) -> Vec<bool> {
        let fps = i64::from(self.opts.fps);
        let tol = self.tolerance();
        let index_of_key =
            |kp: i64| (0..key).find(|&j| self.queue[j].closed_key && self.queue[j].pts == Some(kp));
        let mut needed = vec![false; key];
        for i in (0..key).filter(|&i| taken[i]) {
            let Some(p) = self.queue[i].pts else {
                needed[i] = true;
                continue;
            };
            let mut target = self.target_at_or_after(origin, self.slot(p));
            if let Some(end) = end {
                target = target.min(end - 1);
            }
            match self.nearest_key(target) {
                Some(kp) => {
                    if let Some(j) = index_of_key(kp) {
                        needed[j] = true;
                    }
                }
                None => needed[i] = true,
            }
        }
        for j in (0..key).filter(|&j| self.queue[j].closed_key) {
            let Some(kp) = self.queue[j].pts else {
                continue;
            };
            let s = self.slot(kp);
            let mut t = self.target_at_or_after(origin, s - tol);
            while t <= s + tol {
                if end.is_some_and(|e| t - fps / 2 >= e) {
                    break;
                }
                let clipped = end.map_or(t, |e| t.min(e - 1));
                if self.nearest_key(clipped) == Some(kp) {
                    needed[j] = true;
                }
                t += fps;
            }
        }
        needed
    }

    fn send(&mut self, q: Queued, skip: bool) -> Result<(), MediaError> {
        if let Some(p) = q.pts {
            self.remember(p, q.closed_key);
        }
        if self.opts.skip_nonref && skip != self.skipping {
            self.decoder.skip_frame(if skip {
                Discard::NonReference
            } else {
                Discard::Default
            });
            self.skipping = skip;
        }
        if skip {
            self.report.nonref_skippable += 1;
        }
        if self.decoder.send_packet(&q.packet).is_err() {
            // A damaged packet: skip it like ffmpeg's CLI does and keep going.
            self.report.decode.corrupt_packets += 1;
            return Ok(());
        }
        self.drain_decoder()
    }

    fn drop_packet(&mut self, q: Queued) {
        if let Some(p) = q.pts {
            self.remember(p, q.closed_key);
        }
        self.report.dropped_packets += 1;
    }

    fn remember(&mut self, pts: i64, closed_key: bool) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(pts);
        if closed_key {
            if self.keys.len() == 8 {
                self.keys.pop_front();
            }
            self.keys.push_back(pts);
        }
    }

    /// Seek mode: when the keyframe before the next second's middle lies ahead of everything
    /// read, jump to it instead of reading (and decoding) up to it.
    fn maybe_seek(&mut self) -> Result<(), MediaError> {
        let Some(origin) = self.origin else {
            return Ok(());
        };
        if self.seek_checked == Some(self.next_second) {
            return Ok(());
        }
        self.seek_checked = Some(self.next_second);
        let fps = i64::from(self.opts.fps);
        let target = self.target(origin, self.next_second);
        // The middle in the stream's time base, less a margin for the decoding delay of B-frames
        // (index timestamps may be decoding times).
        let tb_num = i128::from(self.time_base.numerator().max(1));
        let tb_den = i128::from(self.time_base.denominator().max(1));
        let target_ts = (i128::from(target) * tb_den / (i128::from(fps) * tb_num)) as i64
            + self.ts_offset
            - 4 * self.default_duration;
        // SAFETY: the stream index is valid for the live format context; the entry pointer is
        // read at once, before any other call on the context.
        let key_pos = unsafe {
            let ctx = self.input.as_mut_ptr();
            let st = *(*ctx).streams.add(self.stream_index);
            let entry = ffmpeg::ffi::avformat_index_get_entry_from_timestamp(
                st,
                target_ts,
                ffmpeg::ffi::AVSEEK_FLAG_BACKWARD,
            );
            if entry.is_null() {
                return Ok(());
            }
            (*entry).pos
        };
        // Byte positions, not timestamps: index timestamps may be decoding times or unshifted.
        if self.read_pos < 0 || key_pos <= self.read_pos {
            return Ok(());
        }
        // SAFETY: seeking the live format context on a valid stream.
        let ret = unsafe {
            ffmpeg::ffi::av_seek_frame(
                self.input.as_mut_ptr(),
                self.stream_index as i32,
                target_ts,
                ffmpeg::ffi::AVSEEK_FLAG_BACKWARD,
            )
        };
        if ret < 0 {
            return Ok(());
        }
        self.report.seeks += 1;
        // Where it landed is known from the next packet: ahead, or (demuxers differ in how they
        // read the timestamp) back among packets already read, which are then passed over.
        self.seek_from = Some((self.read_pos, false));
        Ok(())
    }

    /// A seek landed ahead of everything read: what was read but not decoded, and what the codec
    /// still holds, is before the keyframe and not needed.
    fn landed_ahead(&mut self) {
        while let Some(q) = self.queue.pop_front() {
            self.drop_packet(q);
        }
        self.decoder.flush();
        self.cand.slot = None;
        self.prev.slot = None;
    }

    /// Flushes the codec, gives the last frame to the seconds that remain, checks for truncation.
    fn finish(&mut self) -> Result<(), MediaError> {
        self.done = true;
        self.process_queue(true)?;
        let _ = self.decoder.send_eof();
        self.drain_decoder()?;
        let mut end = self.last_pts.map(|last| last + self.last_duration);
        if self.tolerance() > 0 && self.max_pts.is_some() {
            // Approximate mode may not decode the last frames: the end is the last packet's.
            end = end.max(Some(self.max_end));
        }
        if let (Some(origin), Some(end)) = (self.origin, end) {
            let end_slot = self.slot(end);
            let fps = i64::from(self.opts.fps);
            // The `fps` filter ends at `end_slot`: the last second's frame is the last one before.
            let mut rgb = None;
            while self.cand.slot.is_some() && origin + fps * (self.next_second as i64) < end_slot {
                let target = self.target(origin, self.next_second).min(end_slot - 1);
                let which = match (self.cand.slot, self.prev.slot) {
                    (Some(c), Some(p)) if self.tolerance() > 0 => {
                        if (p - target).abs() <= (c - target).abs() {
                            Which::Prev
                        } else {
                            Which::Cand
                        }
                    }
                    (Some(c), Some(p)) if c > target && p <= target => Which::Prev,
                    _ => Which::Cand,
                };
                self.emit(which, target, (0, 0), &mut rgb)?;
            }
        }
        close_report(
            &mut self.report.decode,
            end,
            self.time_base,
            self.container_duration_s,
            self.default_duration,
        );
        if self.report.decode.decoded_frames == 0 {
            return Err(self.err(no_frames_kind(&self.report.decode, &self.input)));
        }
        Ok(())
    }

    fn drain_decoder(&mut self) -> Result<(), MediaError> {
        loop {
            match self.decoder.receive_frame(&mut self.cur) {
                Ok(()) => {
                    self.report.decode.decoded_frames += 1;
                    self.on_frame()?;
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    return Ok(())
                }
                Err(_) => {
                    self.report.decode.corrupt_packets += 1;
                }
            }
        }
    }

    /// Timestamps a decoded frame as the clip decoder does, emits the held frame for every second
    /// whose middle lies before the new frame, and holds the new frame instead.
    fn on_frame(&mut self) -> Result<(), MediaError> {
        let pts = crate::decode::stamp_frame(
            &mut self.cur,
            (self.ts_offset, self.default_duration),
            &mut self.last_pts,
            &mut self.last_duration,
            &mut self.report.decode.missing_timestamps,
        );
        let slot = self.slot(pts);
        let origin = *self.origin.get_or_insert(slot);
        if self.cand.slot.is_some() {
            let mut rgb = None;
            loop {
                let target = self.target(origin, self.next_second);
                if target >= slot {
                    break;
                }
                // Approximate mode: the nearer of the frames around the middle (ties: earlier).
                let which = match self.cand.slot {
                    Some(c) if self.tolerance() > 0 && slot - target < target - c => Which::Cur,
                    _ => Which::Cand,
                };
                self.emit(which, target, (slot, pts), &mut rgb)?;
            }
        }
        // prev <- cand <- the new frame; the old prev's buffer receives the next frame.
        std::mem::swap(&mut self.prev, &mut self.cand);
        std::mem::swap(&mut self.cand.frame, &mut self.cur);
        self.cand.slot = Some(slot);
        self.cand.pts = pts;
        Ok(())
    }

    /// Emits a held frame (or the one just decoded, at `(slot, pts)`) for the next second,
    /// scaled once however many seconds it covers; `target` is the slot it stands for.
    fn emit(
        &mut self,
        which: Which,
        target: i64,
        cur: (i64, i64),
        rgb: &mut Option<(Which, Vec<u8>)>,
    ) -> Result<(), MediaError> {
        let (slot, pts) = match which {
            Which::Cand => (self.cand.slot, self.cand.pts),
            Which::Prev => (self.prev.slot, self.prev.pts),
            Which::Cur => (Some(cur.0), cur.1),
        };
        let Some(slot) = slot else {
            return Ok(());
        };
        if slot > target && self.tolerance() == 0 {
            self.report.late_samples += 1;
        }
        let middle_s = target as f64 / f64::from(self.opts.fps);
        let offset = (seconds(pts, self.time_base) - middle_s).abs();
        self.report.max_offset_s = self.report.max_offset_s.max(offset);
        let bytes = match rgb {
            Some((w, b)) if *w == which => b.clone(),
            _ => {
                let b = self.convert(which)?;
                *rgb = Some((which, b.clone()));
                b
            }
        };
        let (width, height) = self.shaped;
        self.ready.push_back(SampledFrame {
            second: self.next_second,
            time_s: seconds(pts, self.time_base),
            rgb: bytes,
            size: self.opts.size,
            width,
            height,
        });
        self.next_second += 1;
        self.report.decode.output_frames += 1;
        self.report.decode.clips += 1;
        Ok(())
    }

    /// The held frame rotated, scaled and cropped to RGB24, through the clip decoder's filters
    /// less `fps` (so the pixels are the clip decoder's).
    fn convert(&mut self, which: Which) -> Result<Vec<u8>, MediaError> {
        let frame = match which {
            Which::Cand => &self.cand.frame,
            Which::Prev => &self.prev.frame,
            Which::Cur => &self.cur,
        };
        if self.graph.is_none() {
            let f = frame;
            let (w, h) = if self.info.rotation == 90 || self.info.rotation == 270 {
                (f.height(), f.width())
            } else {
                (f.width(), f.height())
            };
            let spec = match self.opts.shape {
                FrameShape::Square => frame_filter_spec(self.info.rotation, w, h, self.opts.size),
                FrameShape::Gray {
                    min_height,
                    max_height,
                } => gray_filter_spec(self.info.rotation, w, h, min_height, max_height),
            };
            let graph = video_graph(f, self.time_base, &spec)
                .map_err(ff(&self.path, "building the filter graph"))?;
            self.graph = Some(graph);
        }
        let fail = ff(&self.path, "scaling a frame");
        let graph = self.graph.as_mut().expect("built above");
        let mut src = graph
            .get("in")
            .ok_or(ffmpeg::Error::FilterNotFound)
            .map_err(&fail)?;
        // SAFETY: a live buffer source and a frame we own; KEEP_REF makes the source take its own
        // reference, so the held frame stays valid (it may stand for another second).
        let ret = unsafe {
            ffmpeg::ffi::av_buffersrc_add_frame_flags(
                src.as_mut_ptr(),
                frame.as_ptr().cast_mut(),
                ffmpeg::ffi::AV_BUFFERSRC_FLAG_KEEP_REF as i32,
            )
        };
        if ret < 0 {
            return Err(fail(ffmpeg::Error::from(ret)));
        }
        graph
            .get("out")
            .ok_or(ffmpeg::Error::FilterNotFound)
            .and_then(|mut sink| sink.sink().frame(&mut self.filtered))
            .map_err(&fail)?;
        let (width, height) = (self.filtered.width(), self.filtered.height());
        self.shaped = (width, height);
        let row = width as usize
            * if self.opts.shape == FrameShape::Square {
                3
            } else {
                1
            };
        let stride = self.filtered.stride(0);
        let data = self.filtered.data(0);
        let mut out = Vec::with_capacity(row * height as usize);
        for y in 0..height as usize {
            out.extend_from_slice(&data[y * stride..y * stride + row]);
        }
        Ok(out)
    }

    fn is_closed_key(&self, packet: &ffmpeg::Packet) -> bool {
        let data = packet.data().unwrap_or_default();
        match self.key_rule {
            KeyRule::Never => false,
            KeyRule::Every | KeyRule::KeyFlag => true,
            KeyRule::H264(len) => has_nal(data, len, |b| b & 0x1f == 5),
            KeyRule::Hevc(len) => has_nal(data, len, |b| matches!((b >> 1) & 0x3f, 19 | 20)),
        }
    }
}

impl Iterator for FrameSampler {
    type Item = Result<SampledFrame, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            if self.done {
                return None;
            }
            if let Err(e) = self.pump() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.ready.pop_front().map(Ok)
    }
}

/// The clip decoder's filter chain without `fps`: autorotate, scale (short side `size`, bicubic),
/// centre crop, RGB24. `w`×`h` is the size after rotation.
pub fn frame_filter_spec(rotation: i32, w: u32, h: u32, size: u32) -> String {
    let s = scaled_size(w, h, size);
    format!(
        "{}scale={}:{}:flags=bicubic,crop={size}:{size}:{}:{},format=rgb24",
        rotate_filter(rotation),
        s.width,
        s.height,
        s.crop_x,
        s.crop_y
    )
}

/// [`FrameShape::Gray`]'s chain: autorotate, scale (aspect kept, height clamped to
/// `[min_height, max_height]`, width even), 8-bit gray. `w`×`h` is the size after rotation.
pub fn gray_filter_spec(rotation: i32, w: u32, h: u32, min_height: u32, max_height: u32) -> String {
    let (w, h) = (w.max(1), h.max(1));
    let th = h.clamp(min_height.max(1), max_height.max(min_height).max(1));
    let tw = ((u64::from(w) * u64::from(th) / u64::from(h)).max(2) as u32 + 1) & !1;
    format!(
        "{}scale={tw}:{th}:flags=bicubic,format=gray",
        rotate_filter(rotation)
    )
}

fn nonref_is_unreferenced(id: ffmpeg::codec::Id) -> bool {
    use ffmpeg::codec::Id;
    matches!(id, Id::H264 | Id::MPEG1VIDEO | Id::MPEG2VIDEO | Id::MPEG4)
}

fn key_rule(decoder: &ffmpeg::decoder::Video) -> KeyRule {
    use ffmpeg::codec::Id;
    let id = decoder.id();
    // SAFETY: reading the codec descriptor (static data) and the extradata of a live context.
    let (intra_only, extradata) = unsafe {
        let desc = ffmpeg::ffi::avcodec_descriptor_get(id.into());
        let intra = !desc.is_null() && (*desc).props & ffmpeg::ffi::AV_CODEC_PROP_INTRA_ONLY != 0;
        let ctx = decoder.as_ptr();
        let extra = if (*ctx).extradata.is_null() || (*ctx).extradata_size <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts((*ctx).extradata, (*ctx).extradata_size as usize).to_vec()
        };
        (intra, extra)
    };
    if intra_only {
        return KeyRule::Every;
    }
    match id {
        Id::H264 => KeyRule::H264(avcc_length_size(&extradata)),
        Id::HEVC => KeyRule::Hevc(hvcc_length_size(&extradata)),
        Id::VP8 | Id::VP9 | Id::AV1 => KeyRule::KeyFlag,
        _ => KeyRule::Never,
    }
}

/// NAL length-prefix size of an `avcC` record (MP4/Matroska H.264), `None` for Annex B.
fn avcc_length_size(extradata: &[u8]) -> Option<usize> {
    (extradata.len() >= 7 && extradata[0] == 1).then(|| usize::from(extradata[4] & 3) + 1)
}

/// NAL length-prefix size of an `hvcC` record (MP4/Matroska HEVC), `None` for Annex B.
fn hvcc_length_size(extradata: &[u8]) -> Option<usize> {
    (extradata.len() >= 23 && extradata[0] == 1).then(|| usize::from(extradata[21] & 3) + 1)
}

/// Whether a packet holds a NAL unit whose first header byte satisfies `is`: length-prefixed
/// units when `length_size` is given, Annex B start codes otherwise.
fn has_nal(data: &[u8], length_size: Option<usize>, is: impl Fn(u8) -> bool) -> bool {
    match length_size {
        Some(n) => {
            let mut i = 0usize;
            while i + n < data.len() {
                let len = data[i..i + n]
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
                if len == 0 {
                    return false;
                }
                if is(data[i + n]) {
                    return true;
                }
                i = i.saturating_add(n).saturating_add(len);
            }
            false
        }
        None => data
            .windows(4)
            .any(|w| w[0] == 0 && w[1] == 0 && w[2] == 1 && is(w[3])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixed_and_annex_b_nal_units() {
        let idr = |b: u8| b & 0x1f == 5;
        // SEI (6) then IDR slice (0x65), 4-byte lengths.
        let avcc = [0, 0, 0, 2, 0x06, 0xff, 0, 0, 0, 3, 0x65, 0x88, 0x80];
        assert!(has_nal(&avcc, Some(4), idr));
        // A non-IDR slice (0x41) only.
        let p = [0, 0, 0, 3, 0x41, 0x9a, 0x00];
        assert!(!has_nal(&p, Some(4), idr));
        // A length running past the end is not read.
        assert!(!has_nal(&[0, 0, 0, 9, 0x41], Some(4), idr));
        let annexb = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88];
        assert!(has_nal(&annexb, None, idr));
        assert!(!has_nal(&[0, 0, 1, 0x41, 0x9a], None, idr));
        // HEVC IDR_W_RADL (19): header byte 19 << 1.
        assert!(has_nal(&[0, 0, 0, 2, 19 << 1, 1], Some(4), |b| matches!(
            (b >> 1) & 0x3f,
            19 | 20
        )));
    }

    #[test]
    fn avcc_and_hvcc_length_sizes() {
        assert_eq!(
            avcc_length_size(&[1, 0x64, 0, 0x28, 0xff, 0xe1, 0]),
            Some(4)
        );
        assert_eq!(
            avcc_length_size(&[1, 0x64, 0, 0x28, 0xfd, 0xe1, 0]),
            Some(2)
        );
        assert_eq!(avcc_length_size(&[0, 0, 0, 1, 0x67]), None);
        let mut hvcc = vec![0u8; 23];
        hvcc[0] = 1;
        hvcc[21] = 0x0f;
        assert_eq!(hvcc_length_size(&hvcc), Some(4));
        assert_eq!(hvcc_length_size(&[0, 0, 0, 1]), None);
    }
}
