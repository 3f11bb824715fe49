// Pure formatting for the window: durations, moments, import speed, what probe found.
import type { MediaInfo } from "./api";

/** 42.4 → "0:42", 3725 → "1:02:05". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "–";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** 29.97002997 → "29.97 fps", 30 → "30 fps". */
export function formatFps(fps: number | null): string {
  if (fps === null || !Number.isFinite(fps) || fps <= 0) return "– fps";
  return `${Number(fps.toFixed(2))} fps`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** The subtitle tracks: embedded streams (with their language) and sidecar files. */
export function subtitleSummary(info: MediaInfo): string {
  const embedded = info.streams.filter((s) => s.kind === "subtitle");
  const sidecars = info.sidecar_subtitles.length;
  const total = embedded.length + sidecars;
  if (total === 0) return "no subtitles";
  const langs = embedded.map((s) => s.language).filter((l): l is string => !!l);
  const parts = [`${total} subtitle track${total === 1 ? "" : "s"}`];
  if (langs.length > 0) parts.push(`(${[...new Set(langs)].join(", ")})`);
  if (sidecars > 0) parts.push(`incl. ${sidecars} file${sidecars === 1 ? "" : "s"}`);
  return parts.join(" ");
}

/** Splits a path into the folder and the file name, for either separator. */
export function splitPath(path: string): { dir: string; name: string } {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i < 0 ? { dir: "", name: path } : { dir: path.slice(0, i), name: path.slice(i + 1) };
}

/** A moment's time: 42.9 → "0:42" (whole seconds, rounded down, as a player shows them). */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  return formatDuration(Math.floor(seconds));
}

/** "0:20–0:23": a moment from its start to its end (the end rounded up). */
export function formatRange(start: number, end: number): string {
  return `${formatClock(start)}–${formatClock(Math.ceil(end))}`;
}

/** Time left of a job: "12 s left", "about 3:05 left"; "" when unknown. */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "";
  }
  if (seconds < 60) return `${Math.max(1, Math.ceil(seconds))} s left`;
  return `about ${formatDuration(seconds)} left`;
}

/** Import speed in video-seconds per second: "3.2 video-s/s". */
export function formatRate(rate: number): string {
  if (!Number.isFinite(rate) || rate <= 0) return "";
  return `${rate < 10 ? rate.toFixed(1) : Math.round(rate)} video-s/s`;
}

/** "1 video", "3 videos". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
