// The backend's commands, events and the shapes they carry. The shapes are generated from the
// Rust types (`src-tauri/src/{lib,app,retry}.rs`, `vclip_engine`, `vclip_media::MediaInfo`) by
// ts-rs into `./bindings/` (regenerate: `scripts/gen-bindings.sh`; `cargo test` fails while they
// are out of date); this file re-exports them under the names the UI uses.
import { convertFileSrc } from "@tauri-apps/api/core";
import * as commands from "./bindings/commands";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { AppStatus } from "./bindings/AppStatus";
import type { ChapterFormat } from "./bindings/ChapterFormat";
import type { ChapterStep } from "./bindings/ChapterStep";
import type { CommandError } from "./bindings/CommandError";
import type { DuplicatesReport } from "./bindings/DuplicatesReport";
import type { ExportedChapters } from "./bindings/ExportedChapters";
import type { ExportedMoments } from "./bindings/ExportedMoments";
import type { LinkTarget } from "./bindings/LinkTarget";
import type { MomentSpan } from "./bindings/MomentSpan";
import type { SavedClip } from "./bindings/SavedClip";
import type { TimelineFormat } from "./bindings/TimelineFormat";
import type { ImportSummary } from "./bindings/ImportSummary";
import type { JobEvent } from "./bindings/JobEvent";
import type { ImportStarted } from "./bindings/ImportStarted";
import type { Moment } from "./bindings/Moment";
import type { ProbeResult } from "./bindings/ProbeResult";
import type { RemovedVideo } from "./bindings/RemovedVideo";
import type { RetryStarted } from "./bindings/RetryStarted";
import type { SharedFootage } from "./bindings/SharedFootage";
import type { StepsReport } from "./bindings/StepsReport";
import type { FoundSteps } from "./bindings/FoundSteps";
import type { VideoRow } from "./bindings/VideoRow";

export type {
  AppStatus,
  DuplicatesReport,
  SharedFootage,
  ChapterFormat,
  ChapterStep,
  CommandError,
  ExportedChapters,
  ExportedMoments,
  ImportStarted,
  LinkTarget,
  MomentSpan,
  SavedClip,
  TimelineFormat,
  Moment,
  ProbeResult,
  RemovedVideo,
  RetryStarted,
  StepsReport,
  FoundSteps,
  VideoRow,
};
export type { FileError } from "./bindings/FileError";
export type { ImportSummary, JobEvent };
export type { LibraryState } from "./bindings/LibraryState";
export type { MediaInfo } from "./bindings/MediaInfo";
export type { ModelStatus } from "./bindings/ModelStatus";
export type { Progress } from "./bindings/Progress";
export type { ProgressEvent } from "./bindings/ProgressEvent";
export type { Signal } from "./bindings/Signal";
export type { SnippetPart } from "./bindings/SnippetPart";
export type { StepSpan } from "./bindings/StepSpan";
export type { StreamInfo } from "./bindings/StreamInfo";
export type { StreamKind } from "./bindings/StreamKind";
export type { VideoInfo } from "./bindings/VideoInfo";

export type VideoStatus = VideoRow["status"];

/** The import thread's events: one [`JobEvent`] per batch, its summary as the result. */
export type ImportEvent = JobEvent<ImportSummary>;

/** What a job's end says in words: the cancel's message, or the error's. */
export function endMessage(ev: JobEvent<unknown>): string {
  if (ev.type === "failed") return ev.error.message;
  if (ev.type === "cancelled") return ev.message;
  return "";
}

export function appStatus(): Promise<AppStatus> {
  return commands.appStatus();
}

export function reopenLibrary(): Promise<void> {
  return commands.reopenLibrary();
}

/** Imports files and folders; no paths resumes what an interrupted import left. */
export function importPaths(paths: string[]): Promise<ImportStarted> {
  return commands.importPaths(paths);
}

export function cancelImport(): Promise<boolean> {
  return commands.cancelImport();
}

export function listVideos(): Promise<VideoRow[]> {
  return commands.listVideos();
}

export function search(query: string, limit?: number): Promise<Moment[]> {
  return commands.search(query, limit ?? null);
}

/** "More like this": moments that look like `durationS` seconds of video `id` from `atS`. */
export function searchLike(
  id: number,
  atS: number,
  durationS: number,
  limit?: number,
): Promise<Moment[]> {
  return commands.searchLike(id, atS, durationS, limit ?? null);
}

/** Moments that look like the picture file at `path` (dropped on the window). */
export function searchImage(path: string, limit?: number): Promise<Moment[]> {
  return commands.searchImage(path, limit ?? null);
}

/** Moments that look like a pasted picture (the bytes of its file). */
export function searchImageData(data: Uint8Array, limit?: number): Promise<Moment[]> {
  return commands.searchImageData(Array.from(data), limit ?? null);
}

/** The videos that share footage, and where (fingerprints made for older imports). */
export function duplicates(): Promise<DuplicatesReport> {
  return commands.duplicates();
}

/** Where the footage of video `id` also appears (this video as `a`). */
export function footageElsewhere(id: number): Promise<SharedFootage[]> {
  return commands.footageElsewhere(id);
}

export function removeVideo(id: number): Promise<RemovedVideo> {
  return commands.removeVideo(id);
}

export function videoDetails(id: number): Promise<ProbeResult> {
  return commands.videoDetails(id);
}

/** Places pasted steps (one per line) on a ready library video. */
/** The steps video `id` lists itself (description file or tag, or "Step 1 …" subtitles). */
export function stepsFromVideo(id: number): Promise<FoundSteps> {
  return commands.stepsFromVideo(id);
}

export function locateSteps(id: number, text: string, ordered: boolean): Promise<StepsReport> {
  return commands.locateSteps(id, text, ordered);
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
  return commands.exportChapters(id, steps, format);
}

/**
 * "Save clip…": `startS..endS` of video `id` as a video file where the user says in a native
 * save dialog (a copy when a keyframe is at the start, else an exact re-encode). `null`: the
 * dialog was cancelled.
 */
export function saveClip(id: number, startS: number, endS: number): Promise<SavedClip | null> {
  return commands.saveClip(id, startS, endS);
}

/** The moment link the app was started with, resolved; `null` when there is none. */
export function takePendingLink(): Promise<LinkTarget | null> {
  return commands.takePendingLink();
}

/** "Copy link": the `vclip://` link to second `atS` of video `id`. */
export function momentLink(id: number, atS: number): Promise<string> {
  return commands.momentLink(id, atS);
}

/**
 * "Export results…": the moments found for `query` as an editor timeline (EDL, FCPXML or a
 * marker CSV) where the user says in a native save dialog. `null`: the dialog was cancelled.
 */
export function exportResults(
  query: string,
  moments: MomentSpan[],
  format: TimelineFormat,
): Promise<ExportedMoments | null> {
  return commands.exportResults(query, moments, format);
}

/**
 * Imports the library's failed videos again (`ids`: those of them; null: all of them), by the
 * paths the library has. Unknown ids are refused (`notFound`); videos that did not fail are
 * left alone.
 */
export function retryFailed(ids: number[] | null): Promise<RetryStarted> {
  return commands.retryFailed(ids);
}

/**
 * "Add videos…" / "Add folder…": the app opens a native picker, then imports what was picked as
 * it imports dropped paths. `null`: the dialog was cancelled.
 */
export function addVideosDialog(folder: boolean): Promise<ImportStarted | null> {
  return commands.addVideosDialog(folder);
}

/** Opens a library video in the system's default player. */
export function openVideo(id: number): Promise<void> {
  return commands.openVideo(id);
}

/** Shows a library video's folder in the file manager. */
export function revealVideo(id: number): Promise<void> {
  return commands.revealVideo(id);
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
