// The backend's commands and the shapes they return. These mirror the Rust types in
// `src-tauri/src/lib.rs` and `vclip_media::MediaInfo` by hand for now; generate them
// (specta / ts-rs) once the app has more than two commands.
import { invoke } from "@tauri-apps/api/core";

export interface LibraryInfo {
  path: string;
}

export type StreamKind = "video" | "audio" | "subtitle" | "data" | "attachment" | "unknown";

export interface StreamInfo {
  index: number;
  kind: StreamKind;
  codec: string;
  language: string | null;
  title: string | null;
  duration_s: number | null;
  attached_picture: boolean;
}

export interface VideoInfo {
  stream_index: number;
  codec: string;
  pixel_format: string;
  width: number;
  height: number;
  rotation: number;
  display_width: number;
  display_height: number;
  avg_frame_rate: number | null;
  real_frame_rate: number | null;
  frame_count: number | null;
  still_image: boolean;
}

export interface MediaInfo {
  path: string;
  size_bytes: number;
  container: string;
  container_long: string;
  duration_s: number | null;
  duration_estimated: boolean;
  bit_rate: number | null;
  title: string | null;
  creation_time: string | null;
  video: VideoInfo | null;
  has_audio: boolean;
  streams: StreamInfo[];
  sidecar_subtitles: string[];
}

/** A file that could not be handled, and why (the reason does not repeat the path). */
export interface FileError {
  path: string;
  message: string;
}

export type ProbeResult =
  | { status: "ok"; path: string; info: MediaInfo }
  | ({ status: "error" } & FileError);

/** An error of a whole command (not of one file). */
export interface CommandError {
  kind: "internal";
  message: string;
}

export function libraryInfo(): Promise<LibraryInfo> {
  return invoke<LibraryInfo>("library_info");
}

export function probeFiles(paths: string[]): Promise<ProbeResult[]> {
  return invoke<ProbeResult[]>("probe_files", { paths });
}

/** Whether the page runs inside the Tauri window (not a plain browser tab on the dev server). */
export function inTauri(): boolean {
  return "__TAURI_INTERNALS__" in window;
}

/** The message of anything a command rejected with. */
export function errorMessage(e: unknown): string {
  if (typeof e === "string") return e;
  if (e && typeof e === "object" && "message" in e && typeof e.message === "string") {
    return e.message;
  }
  return String(e);
}
