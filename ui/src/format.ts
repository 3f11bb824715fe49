// Pure formatting of what probe found, for the file list.
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
