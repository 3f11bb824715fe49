// The model family on the settings screen (issue #7, item 4; `src-tauri/src/family.rs`): which
// family the library uses ("Fast (CLIP)" or "VideoCLIP (GPU)", with the model's folder), the
// other one on offer with what a switch does here (videos decoded vs re-embedded from cached
// features), an import-time estimate measured on this computer before switching, the switch
// with progress and Cancel, and the other family's download or a random CLIP test model.
import * as commands from "./bindings/commands";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { endMessage, errorMessage, inTauri } from "./api";
import type { Downloaded } from "./bindings/Downloaded";
import type { FamiliesView } from "./bindings/FamiliesView";
import type { FamilyChoice } from "./bindings/FamilyChoice";
import type { FamilyEstimate } from "./bindings/FamilyEstimate";
import type { JobEvent } from "./bindings/JobEvent";
import type { FamilyOption } from "./bindings/FamilyOption";
import type { ImportEstimate } from "./bindings/ImportEstimate";
import type { LibraryWork } from "./bindings/LibraryWork";
import type { SwitchStarted } from "./bindings/SwitchStarted";
import type { SwitchSummary } from "./bindings/SwitchSummary";
import { btn, h } from "./dom";
import { plural } from "./format";

export type { FamiliesView, FamilyChoice, FamilyEstimate, SwitchStarted };
/** A family switch's events (`family-switch`). */
export type FamilyEvent = JobEvent<SwitchSummary>;
/** A download's events (`family-download`, `model-download`). */
export type DownloadEvent = JobEvent<Downloaded>;

// ---- commands ----

export function modelFamilies(): Promise<FamiliesView> {
  return commands.modelFamilies();
}

/** Measures how long importing with `family` would take here (a few seconds). */
export function estimateFamily(family: FamilyChoice): Promise<FamilyEstimate> {
  return commands.estimateFamily(family);
}

export function switchFamily(family: FamilyChoice): Promise<SwitchStarted> {
  return commands.switchFamily(family);
}

export function cancelFamily(): Promise<boolean> {
  return commands.cancelFamily();
}

export function downloadFamily(family: FamilyChoice): Promise<void> {
  return commands.downloadFamily(family);
}

export function cancelFamilyDownload(): Promise<boolean> {
  return commands.cancelFamilyDownload();
}

export function useTestClipModel(): Promise<FamiliesView> {
  return commands.useTestClipModel();
}

export function onFamilySwitch(handler: (event: FamilyEvent) => void): Promise<UnlistenFn> {
  return listen<FamilyEvent>("family-switch", (e) => handler(e.payload));
}

export function onFamilyDownload(handler: (event: DownloadEvent) => void): Promise<UnlistenFn> {
  return listen<DownloadEvent>("family-download", (e) => handler(e.payload));
}

// ---- pure helpers (exported for reuse) ----

/** 12000 → "3 h 20 min", 720 → "12 min", 42 → "42 s". */
export function formatSpan(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "an unknown time";
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  const min = Math.round(seconds / 60);
  if (min < 90) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
}

/** 2.93 → "2.9", 0.254 → "0.25", 123.4 → "123". */
export function formatRate(rate: number): string {
  if (!Number.isFinite(rate) || rate <= 0) return "–";
  if (rate >= 100) return String(Math.round(rate));
  return String(Number(rate.toPrecision(2)));
}

/** What a switch does in this library, in words. */
export function workSentence(w: LibraryWork, label: string): string {
  if (w.videos === 0) return "The library has no videos yet: switching only changes the model.";
  if (w.embedded) {
    return `The library already has ${label}'s search data for all ${plural(w.videos, "video")}: switching decodes nothing.`;
  }
  const parts: string[] = [];
  if (w.decode_videos > 0) {
    parts.push(
      `decodes ${plural(w.decode_videos, "video")} (${formatSpan(w.decode_s)} of video) with ${label}'s frame sampling`,
    );
  }
  if (w.reembed_videos > 0) {
    parts.push(
      `re-embeds ${plural(w.reembed_videos, "video")} from cached features, without decoding`,
    );
  }
  let s = `Switching ${parts.join(" and ")}.`;
  if (w.missing_files > 0) {
    s += ` ${plural(w.missing_files, "video")} can no longer be found on disk and cannot be decoded.`;
  }
  return s;
}

/** The estimate's headline: the library (or one hour of video) at the measured rate. */
export function estimateSentence(f: FamilyEstimate): string {
  const e = f.estimate;
  const rate = `${formatRate(e.video_s_per_s)} video-seconds per second`;
  const what =
    e.library.videos > 0
      ? `Importing your library's ${formatSpan(e.library.total_s)} of video with ${f.label} would take about ${formatSpan(e.library_import_s)} on this computer`
      : `Importing one hour of video with ${f.label} would take about ${formatSpan(e.per_hour_s)} on this computer`;
  return `${what} — measured just now: ${rate}.`;
}

/** How the estimate was measured, in words. */
export function measuredDetails(f: FamilyEstimate): string {
  const e: ImportEstimate = f.estimate;
  const device = e.device === "gpu" ? "the GPU" : "the CPU";
  const backbone = f.family === "clip-vit-b32" ? "the image tower" : "S3D-G";
  const parts: string[] = [];
  if (e.decode) {
    const which = e.samples.length === 1 ? "one of your videos" : `${e.samples.length} of your videos`;
    parts.push(
      `decoding (${e.decoder}) ${formatRate(e.decode.rate)} video-s/s on ${formatSpan(e.decode.seconds)} of ${which}`,
    );
  } else {
    parts.push("decoding not measured (no video in the library to time it on)");
  }
  parts.push(
    `${backbone} ${formatRate(e.stages.encode.rate)} video-s/s on ${device} (${plural(e.stages.encode.calls, "call")} of ${e.stages.batch} s)`,
  );
  if (e.concurrent) {
    const pct = (x: number) => `${Math.round(x * 100)} %`;
    parts.push(
      `both at once, decoding kept ${pct(e.concurrent.decode_share)} of its speed and ${backbone} ${pct(e.concurrent.encode_share)}`,
    );
  }
  parts.push(`per video ${e.per_video_s.toFixed(2)} s`);
  let s = `Measured in ${e.measured_s.toFixed(1)} s: ${parts.join("; ")}.`;
  if (e.random_weights) {
    s +=
      " This is a random test model, much smaller than the real one: the real model imports more slowly.";
  }
  return s;
}

// ---- state and rendering ----

let view: FamiliesView | null = null;
let estimate: FamilyEstimate | null = null;
let measuring = false;
let switching: { text: string; done: number; total: number | null } | null = null;
let download: { text: string; done: number; total: number | null } | null = null;
let notice: { text: string; error: boolean } | null = null;
let changed: () => void = () => {};

const box = h("div", "family");
box.id = "settings-family";

function note(text: string, cls = "muted"): HTMLElement {
  return h("p", `settings-note ${cls}`, text);
}

function row(label: string, ...content: (Node | string)[]): HTMLElement {
  const r = h("div", "settings-row");
  r.append(h("span", "settings-label", label));
  const c = h("div", "settings-value");
  c.append(...content);
  r.append(c);
  return r;
}

function bar(p: { done: number; total: number | null }): HTMLProgressElement {
  const b = h("progress", "bar");
  if (p.total) {
    b.max = p.total;
    b.value = p.done;
  }
  return b;
}

/** Reads the families again and redraws. */
export async function updateFamilies(): Promise<void> {
  try {
    view = await modelFamilies();
    if (estimate && view.other.family !== estimate.family) estimate = null;
  } catch (e) {
    notice = { text: errorMessage(e), error: true };
  }
  render();
}

async function measure(family: FamilyChoice): Promise<void> {
  if (measuring) return;
  measuring = true;
  estimate = null;
  notice = null;
  render();
  try {
    estimate = await estimateFamily(family);
  } catch (e) {
    notice = { text: errorMessage(e), error: true };
  } finally {
    measuring = false;
    render();
  }
}

async function startSwitch(family: FamilyChoice): Promise<void> {
  if (switching) return;
  switching = { text: "Opening the library with the new model…", done: 0, total: null };
  notice = null;
  render();
  try {
    const s = await switchFamily(family);
    const w = s.work;
    switching = {
      text: w.embedded
        ? "Nothing to decode: finishing…"
        : `Decoding ${plural(w.decode_videos, "video")}, re-embedding ${plural(w.reembed_videos, "video")}…`,
      done: 0,
      total: null,
    };
    changed();
  } catch (e) {
    switching = null;
    notice = { text: errorMessage(e), error: true };
    void updateFamilies();
  }
  render();
}

function onSwitchEvent(ev: FamilyEvent): void {
  if (ev.type === "progress") {
    const e = ev.event;
    if (e.kind === "warning" || e.kind === "epoch") return;
    const what =
      e.job === "import"
        ? `Decoding with the new model: ${formatSpan(e.done)} of ${e.total !== null ? formatSpan(e.total) : "?"} of video`
        : `Re-embedding from cached features: ${e.done} of ${e.total ?? "?"} videos`;
    const left =
      e.eta_s !== null && e.eta_s !== undefined && e.job === "import"
        ? ` (about ${formatSpan(e.eta_s)} left)`
        : "";
    switching = { text: what + left, done: e.done, total: e.total };
    render();
    return;
  }
  switching = null;
  estimate = null;
  if (ev.type === "finished") {
    const s = ev.result;
    const failed = s.failed.length > 0 ? `; ${plural(s.failed.length, "video")} could not be done` : "";
    notice = {
      text: `The library now uses ${s.label}: ${plural(s.decoded, "video")} decoded, ${plural(s.reembedded, "video")} re-embedded from cached features in ${formatSpan(s.wall_s)}${failed}.`,
      error: s.failed.length > 0,
    };
  } else {
    notice = { text: endMessage(ev), error: ev.type === "failed" };
  }
  changed();
  void updateFamilies();
}

function onDownloadEvent(ev: DownloadEvent): void {
  if (ev.type === "progress") {
    const e = ev.event;
    if (e.kind === "warning" || e.kind === "epoch") return;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const of = e.total !== null ? ` of ${mb(e.total)} MB` : "";
    download = { text: `${e.job}: ${mb(e.done)} MB${of}`, done: e.done, total: e.total };
    render();
    return;
  }
  download = null;
  notice =
    ev.type === "finished"
      ? {
          text: `The weights are installed in ${ev.result.dir}${ev.result.checked ? ` (${ev.result.checked})` : ""}. Switch when you like.`,
          error: false,
        }
      : ev.type === "cancelled"
        ? { text: ev.message, error: false }
        : { text: `The download failed: ${endMessage(ev)}`, error: true };
  void updateFamilies();
}

function startDownload(family: FamilyChoice): void {
  download = { text: "Starting the download…", done: 0, total: null };
  notice = null;
  render();
  void downloadFamily(family).then(
    () => void updateFamilies(),
    (e) => {
      download = null;
      notice = { text: errorMessage(e), error: true };
      render();
    },
  );
}

function otherBlock(v: FamiliesView, o: FamilyOption): HTMLElement[] {
  const out: HTMLElement[] = [];
  const locked = v.locked_by !== null;
  const busy = measuring || switching !== null || v.switching;
  const name = h("strong", undefined, o.label);
  out.push(row("Also available", name));
  if (o.note) out.push(note(o.note, "settings-warn"));
  if (!o.dir) {
    out.push(note(`Its weights are not on this computer${o.download_dir ? ` (a download goes to ${o.download_dir})` : ""}.`));
    const actions = h("div", "settings-actions");
    const downloading = download !== null || v.downloading;
    const dl = btn(
      `Download ${o.label} weights`,
      () => startDownload(o.family),
      o.family === "clip-vit-b32"
        ? "openai/clip-vit-base-patch32 from Hugging Face (about 600 MB; resumable); nothing switches until you say so"
        : "The released VideoCLIP and S3D-G weights (several hundred MB; resumable); nothing switches until you say so",
    );
    dl.id = "family-download";
    dl.disabled = downloading || busy;
    actions.append(dl);
    if (downloading) actions.append(btn("Cancel download", () => void cancelFamilyDownload()));
    if (o.family === "clip-vit-b32") {
      const test = btn(
        "Use a random CLIP test model",
        () =>
          void useTestClipModel().then(
            (nv) => ((view = nv), render()),
            (e) => ((notice = { text: errorMessage(e), error: true }), render()),
          ),
        "A tiny CLIP model with random weights, to try the switch: its visual matches mean nothing",
      );
      test.id = "family-test-model";
      test.classList.add("button-quiet");
      test.disabled = busy;
      actions.append(test);
    }
    out.push(actions);
    if (download) out.push(bar(download), note(download.text));
    return out;
  }
  const dir = h("code", "settings-path", o.dir);
  out.push(row("Its weights", dir));
  if (o.random) out.push(note("These are random test weights: visual matches with them mean nothing.", "settings-warn"));
  if (o.work) out.push(note(workSentence(o.work, o.label)));
  if (locked) {
    out.push(note(`${v.locked_by} decides the model: unset it to switch.`));
  }
  const actions = h("div", "settings-actions");
  if (!estimate || estimate.family !== o.family) {
    const sw = btn(
      `Switch to ${o.label}…`,
      () => void measure(o.family),
      "Measures how long it would take on this computer first (a few seconds), then asks",
    );
    sw.id = "family-switch";
    sw.disabled = busy || locked;
    actions.append(sw);
    if (measuring) {
      actions.append(btn("Cancel", () => void cancelFamily()));
    }
    out.push(actions);
    if (measuring) out.push(note("Measuring on this computer (a few seconds): the model and the decoder on your own videos…"));
    return out;
  }
  const e = estimate;
  const headline = h("p", "settings-note family-estimate", estimateSentence(e));
  headline.id = "family-estimate";
  out.push(headline);
  if (o.work && !o.work.embedded && o.work.videos > 0) {
    out.push(note(`This switch: about ${formatSpan(e.estimate.switch_s)}.`));
  }
  out.push(note(measuredDetails(e)));
  if (o.family === "videoclip" && e.estimate.device === "cpu") {
    out.push(
      note(
        `VideoCLIP will be slow here: ${formatRate(e.estimate.video_s_per_s)} video-seconds per second on this computer's CPU (about ${formatSpan(e.estimate.per_hour_s)} per hour of video).`,
        "settings-warn",
      ),
    );
  }
  const go = btn(`Switch now`, () => void startSwitch(o.family), `Use ${o.label} for this library`);
  go.id = "family-switch-now";
  go.disabled = busy || locked;
  const later = btn("Not now", () => ((estimate = null), render()));
  later.classList.add("button-quiet");
  actions.append(go, later);
  out.push(actions);
  return out;
}

function render(): void {
  box.replaceChildren();
  const v = view;
  if (!v) {
    box.append(note("Reading the model families…"));
    return;
  }
  const active = h("span", undefined);
  active.id = "settings-family-active";
  if (v.active) {
    active.append(h("strong", undefined, v.active.label));
    if (v.active.dir) active.append(" — ", h("code", "settings-path", v.active.dir));
    if (v.active.random) active.append(" (random test weights)");
  } else {
    active.append("none loaded");
  }
  box.append(row("Family", active));
  box.append(...otherBlock(v, v.other));
  if (switching || v.switching) {
    const s = switching ?? { text: "Switching…", done: 0, total: null };
    const wrap = h("div", "family-switching");
    const cancel = btn("Cancel", () => void cancelFamily(), "Stop: the library keeps the model it had; what was decoded stays cached");
    cancel.id = "family-cancel";
    wrap.append(bar(s), note(s.text), cancel);
    box.append(wrap);
  }
  if (notice) box.append(note(notice.text, notice.error ? "settings-error" : "settings-ok"));
}

/** The family part, to place in the settings screen's Model section. */
export function familySection(): HTMLElement {
  render();
  return box;
}

/** Listens to the switch's and the download's events; `onChanged` runs after anything that
 * may have reopened the library. */
export function initFamily(onChanged: () => void): void {
  changed = onChanged;
  if (inTauri()) {
    void onFamilySwitch(onSwitchEvent);
    void onFamilyDownload(onDownloadEvent);
  }
}
