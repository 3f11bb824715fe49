// The backend's commands, events and the shapes they carry. These mirror the Rust types in
// `src-tauri/src/{lib,app}.rs`, `vclip_media::MediaInfo` and `vclip_engine::ProgressEvent` by
// hand for now (issue #5 asks for generated types: specta or ts-rs).
import { convertFileSrc, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

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
export type CommandError =
  | { kind: "internal"; message: string }
  | { kind: "opening"; message: string }
  | { kind: "libraryUnavailable"; message: string; in_use: boolean }
  | { kind: "noModel"; message: string }
  | { kind: "notFound"; message: string }
  | { kind: "busy"; message: string }
  | { kind: "cancelled"; message: string }
  | { kind: "engine"; message: string }
  | { kind: "invalid"; message: string }
  | { kind: "file"; message: string };

export type LibraryState =
  | { state: "opening" }
  | { state: "ready" }
  | { state: "unavailable"; message: string; in_use: boolean };

export interface ModelStatus {
  present: boolean;
  random: boolean;
  dir: string | null;
  version: string | null;
  error: string | null;
}

export interface AppStatus {
  library: string;
  library_state: LibraryState;
  model: ModelStatus;
  /** The import batch in progress. */
  job: number | null;
  queued_jobs: number;
  /** The player's file server (loopback HTTP): a video is at `${media_base}/${id}`. */
  media_base: string | null;
}

export type VideoStatus = "queued" | "importing" | "ready" | "failed";

export interface VideoRow {
  id: number;
  path: string;
  status: VideoStatus;
  duration_s: number | null;
  error: string | null;
  /** A thumbnail is served for it ({@link thumbnailUrl}). */
  thumbnail: boolean;
}

export type Signal = "visual" | "subtitle" | "name";

export interface SnippetPart {
  text: string;
  hit: boolean;
}

export interface Moment {
  video_id: number;
  path: string;
  start_s: number;
  end_s: number;
  score: number;
  signals: Signal[];
  /** The subtitle at the moment, split at the matched words; empty when there is none. */
  snippet: SnippetPart[];
}

export interface ImportStarted {
  job: number;
  queued: boolean;
}

/** What `retry_failed` started: `started` is null when none of the videos had failed. */
export interface RetryStarted {
  started: ImportStarted | null;
  videos: number;
}

export interface RemovedVideo {
  id: number;
  path: string;
}

/** `vclip_engine::Progress`: an import counts video-seconds (`done`/`total`, unit "s") and files
 * (`items_done`/`items_total`). */
export interface Progress {
  job: string;
  done: number;
  total: number | null;
  unit: string;
  current: string | null;
  /** Units (video-seconds) per second. */
  rate: number;
  eta_s: number | null;
  items_done?: number;
  items_total?: number;
}

export type ProgressEvent =
  | ({ kind: "started" } & Progress)
  | ({ kind: "progress" } & Progress)
  | { kind: "warning"; item: string; message: string }
  | ({ kind: "finished" } & Progress)
  | ({ kind: "cancelled" } & Progress);

export interface ImportSummary {
  imported: string[];
  reembedded: string[];
  skipped: string[];
  failed: FileError[];
  video_s: number;
  wall_s: number;
  cancelled: boolean;
}

/** The `import` event. `last`: the import thread stopped (nothing queued behind this batch). */
export type ImportEvent =
  | { type: "progress"; job: number; event: ProgressEvent }
  | { type: "finished"; job: number; report: ImportSummary; last: boolean }
  | { type: "failed"; job: number; message: string; last: boolean };

export function appStatus(): Promise<AppStatus> {
  return invoke<AppStatus>("app_status");
}

export function reopenLibrary(): Promise<void> {
  return invoke<void>("reopen_library");
}

/** Imports files and folders; no paths resumes what an interrupted import left. */
export function importPaths(paths: string[]): Promise<ImportStarted> {
  return invoke<ImportStarted>("import_paths", { paths });
}

export function cancelImport(): Promise<boolean> {
  return invoke<boolean>("cancel_import");
}

export function listVideos(): Promise<VideoRow[]> {
  return invoke<VideoRow[]>("list_videos");
}

export function search(query: string, limit?: number): Promise<Moment[]> {
  return invoke<Moment[]>("search", { query, limit });
}

export function removeVideo(id: number): Promise<RemovedVideo> {
  return invoke<RemovedVideo>("remove_video", { id });
}

export function videoDetails(id: number): Promise<ProbeResult> {
  return invoke<ProbeResult>("video_details", { id });
}

/** One step placed on a video's timeline (`vclip_engine::localize::StepSpan`). */
export interface StepSpan {
  text: string;
  start_s: number;
  end_s: number;
  /** Confidence in [0, 1]. */
  score: number;
  second: number;
  similarity: number;
}

export interface StepsReport {
  video: string;
  video_id: number;
  /** The video's duration as probed at import. */
  duration_s: number | null;
  seconds: number;
  ordered: boolean;
  background: number | null;
  steps: StepSpan[];
}

/** Places pasted steps (one per line) on a ready library video. */
export function locateSteps(id: number, text: string, ordered: boolean): Promise<StepsReport> {
  return invoke<StepsReport>("locate_steps", { id, text, ordered });
}

/** A step as a chapter (`vclip_engine::chapters::ChapterStep`). */
export interface ChapterStep {
  text: string;
  start_s: number;
  end_s: number;
}

export type ChapterFormat = "vtt" | "ffmetadata";

export interface ExportedChapters {
  path: string;
  chapters: number;
}

/**
 * Saves steps of video `id` as chapters where the user says in a native save dialog that the
 * app opens (the window has no dialog permission of its own). `null`: the dialog was cancelled.
 */
export function exportChapters(
  id: number,
  steps: ChapterStep[],
  format: ChapterFormat,
): Promise<ExportedChapters | null> {
  return invoke<ExportedChapters | null>("export_chapters", { id, steps, format });
}

/**
 * Imports the library's failed videos again (`ids`: those of them; null: all of them), by the
 * paths the library has. Unknown ids are refused (`notFound`); videos that did not fail are
 * left alone.
 */
export function retryFailed(ids: number[] | null): Promise<RetryStarted> {
  return invoke<RetryStarted>("retry_failed", { ids });
}

/**
 * "Add videos…" / "Add folder…": the app opens a native picker, then imports what was picked as
 * it imports dropped paths. `null`: the dialog was cancelled.
 */
export function addVideosDialog(folder: boolean): Promise<ImportStarted | null> {
  return invoke<ImportStarted | null>("add_videos_dialog", { folder });
}

/** Opens a library video in the system's default player. */
export function openVideo(id: number): Promise<void> {
  return invoke<void>("open_video", { id });
}

/** Shows a library video's folder in the file manager. */
export function revealVideo(id: number): Promise<void> {
  return invoke<void>("reveal_video", { id });
}

export function onAppStatus(handler: (status: AppStatus) => void): Promise<UnlistenFn> {
  return listen<AppStatus>("app-status", (e) => handler(e.payload));
}

export function onImport(handler: (event: ImportEvent) => void): Promise<UnlistenFn> {
  return listen<ImportEvent>("import", (e) => handler(e.payload));
}

/** Where the window loads a video's thumbnail: the app serves it by id, from the library only. */
export function thumbnailUrl(videoId: number): string {
  return convertFileSrc(String(videoId), "thumb");
}

/**
 * Where the player loads a library video: the app's loopback file server serves it by id (never
 * by path), with HTTP byte ranges so that seeking reads only what is shown.
 */
export function mediaUrl(mediaBase: string, videoId: number): string {
  return `${mediaBase}/${videoId}`;
}

/** Whether the page runs inside the Tauri window (not a plain browser tab on the dev server). */
export function inTauri(): boolean {
  return "__TAURI_INTERNALS__" in window;
}

/** The kind of a command error, if `e` is one. */
export function errorKind(e: unknown): CommandError["kind"] | null {
  if (e && typeof e === "object" && "kind" in e && typeof e.kind === "string") {
    return e.kind as CommandError["kind"];
  }
  return null;
}

/** The message of anything a command rejected with. */
export function errorMessage(e: unknown): string {
  if (typeof e === "string") return e;
  if (e && typeof e === "object" && "message" in e && typeof e.message === "string") {
    return e.message;
  }
  return String(e);
}
