// Models and settings (issue #5): the settings screen (gear button in the header, Esc closes),
// the first-run panel shown on the empty library when no model is installed, and the commands
// and events behind them (`src-tauri/src/settings.rs`). Every dialog (library folder, weight
// files) is opened by the app in Rust: the UI never names a path.
import * as commands from "./bindings/commands";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { endMessage, errorMessage, inTauri, type AppStatus } from "./api";
import { familySection, initFamily, updateFamilies } from "./family";
import { updateVersions, versionsSection } from "./finetune";
import "./settings.css";

// ---- types (generated from `src-tauri/src/settings.rs` by ts-rs: see ui/src/bindings) ----

import type { DeviceChoice } from "./bindings/DeviceChoice";
import type { Downloaded } from "./bindings/Downloaded";
import type { JobEvent } from "./bindings/JobEvent";
import type { PrecisionChoice } from "./bindings/PrecisionChoice";
import type { SettingsChange } from "./bindings/SettingsChange";
import type { SettingsView } from "./bindings/SettingsView";
import { btn, h } from "./dom";

export type { DeviceChoice, PrecisionChoice, SettingsChange, SettingsView };
/** The download's events (`model-download`). */
export type DownloadEvent = JobEvent<Downloaded>;

// ---- commands ----

export function getSettings(): Promise<SettingsView> {
  return commands.getSettings();
}

export function updateSettings(change: SettingsChange): Promise<SettingsView> {
  return commands.updateSettings(change);
}

/** A native folder dialog; `null` when cancelled. */
export function chooseLibraryDialog(): Promise<SettingsView | null> {
  return commands.chooseLibraryDialog();
}

/** A native file dialog for the three released files; `null` when cancelled. */
export function importWeightsDialog(): Promise<SettingsView | null> {
  return commands.importWeightsDialog();
}

export function downloadWeights(): Promise<void> {
  return commands.downloadWeights();
}

export function cancelDownload(): Promise<boolean> {
  return commands.cancelDownload();
}

export function useTestModel(): Promise<SettingsView> {
  return commands.useTestModel();
}

export function onDownload(handler: (event: DownloadEvent) => void): Promise<UnlistenFn> {
  return listen<DownloadEvent>("model-download", (e) => handler(e.payload));
}

// ---- the screen ----


const RANDOM_WARNING =
  "This model has random weights (a test model): visual matches mean nothing. " +
  "Subtitle and file-name matches work.";
const TEST_MODEL_LABEL =
  "A tiny model with random weights: import and subtitle or file-name search work, but its " +
  "visual matches are meaningless. For trying VClip out, not for finding moments by what is seen.";

let view: SettingsView | null = null;
let status: AppStatus | null = null;
let busy: string | null = null;
let message: { text: string; error: boolean } | null = null;
let download: { text: string; done: number; total: number | null } | null = null;
let changed: () => void = () => {};
let lastFocus: Element | null = null;
/** The library's watched folders (null: not read yet or no library open). */
let watched: string[] | null = null;

async function loadWatched(): Promise<void> {
  try {
    watched = await commands.watchedFolders();
  } catch {
    watched = null;
  }
  render();
}

const dialog = h("section", "player settings");
dialog.id = "settings";
dialog.hidden = true;
dialog.setAttribute("role", "dialog");
dialog.setAttribute("aria-modal", "true");
dialog.setAttribute("aria-labelledby", "settings-title");
const box = h("div", "player-box settings-box");
dialog.append(box);

const firstRun = h("div", "first-run");
firstRun.id = "first-run";
firstRun.hidden = true;

export function settingsOpen(): boolean {
  return !dialog.hidden;
}

export async function openSettings(): Promise<void> {
  if (!settingsOpen()) lastFocus = document.activeElement;
  dialog.hidden = false;
  render();
  updateVersions();
  void updateFamilies();
  void loadWatched();
  try {
    view = await getSettings();
  } catch (e) {
    message = { text: errorMessage(e), error: true };
  }
  render();
  dialog.querySelector<HTMLElement>("#settings-close")?.focus();
}

export function closeSettings(): void {
  dialog.hidden = true;
  if (lastFocus instanceof HTMLElement) lastFocus.focus();
}

/** The app's status changed (library reopened, model loaded): redraw what depends on it. */
export function updateSettingsStatus(s: AppStatus): void {
  status = s;
  renderFirstRun();
  if (settingsOpen()) {
    void getSettings().then((v) => ((view = v), render()), () => {});
    updateVersions();
    void updateFamilies();
    void loadWatched();
  }
}

/** Runs a command that changes the settings, showing `what` meanwhile. */
async function act(what: string, run: () => Promise<SettingsView | null | void>): Promise<void> {
  if (busy) return;
  busy = what;
  message = null;
  render();
  try {
    const v = await run();
    if (v) view = v;
  } catch (e) {
    message = { text: errorMessage(e), error: true };
  } finally {
    busy = null;
    render();
    changed();
  }
}

function startDownload(): void {
  download = { text: "Starting the download…", done: 0, total: null };
  message = null;
  render();
  void downloadWeights().then(
    () => {
      if (view) view.downloading = true;
      render();
    },
    (e) => {
      download = null;
      message = { text: errorMessage(e), error: true };
      render();
    },
  );
}

function onDownloadEvent(ev: DownloadEvent): void {
  if (ev.type === "progress") {
    const e = ev.event;
    if (e.kind === "warning" || e.kind === "epoch") return;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const of = e.total !== null ? ` of ${mb(e.total)} MB` : "";
    download = {
      text: `${e.job}: ${mb(e.done)} MB${of}`,
      done: e.done,
      total: e.total,
    };
  } else {
    download = null;
    if (view) view.downloading = false;
    message =
      ev.type === "finished"
        ? {
            text: ev.result.reopened
              ? `The official weights are installed in ${ev.result.dir} and in use.`
              : `The weights are installed in ${ev.result.dir}; they are used once the import ends.`,
            error: false,
          }
        : ev.type === "cancelled"
          ? { text: ev.message, error: false }
          : { text: `The download failed: ${endMessage(ev)}`, error: true };
    changed();
    void getSettings().then((v) => ((view = v), render()), () => {});
  }
  render();
  renderFirstRun();
}

function row(label: string, ...content: (Node | string)[]): HTMLElement {
  const r = h("div", "settings-row");
  r.append(h("span", "settings-label", label));
  const c = h("div", "settings-value");
  c.append(...content);
  r.append(c);
  return r;
}

function note(text: string, cls = "muted"): HTMLElement {
  return h("p", `settings-note ${cls}`, text);
}

function weightButtons(compact: boolean): HTMLElement {
  const wrap = h("div", "settings-actions");
  const downloading = download !== null || !!view?.downloading;
  const dl = btn(
    "Download official weights",
    startDownload,
    "Downloads the released VideoCLIP and S3D-G weights (several hundred MB; resumable) and installs them",
  );
  dl.disabled = downloading || busy !== null;
  const imp = btn(
    "Import official weights…",
    () => void act("Importing the weights…", importWeightsDialog),
    "Choose checkpoint_best.pt, s3d_howto100m.pth and vocab.txt (all three at once)",
  );
  imp.disabled = downloading || busy !== null;
  wrap.append(dl, imp);
  if (downloading) {
    wrap.append(btn("Cancel download", () => void cancelDownload()));
  }
  const test = btn(
    "Try with a random test model",
    () => void act("Writing the test model…", useTestModel),
    TEST_MODEL_LABEL,
  );
  test.classList.add("button-quiet");
  test.disabled = busy !== null;
  wrap.append(test);
  const out = h("div");
  out.append(wrap);
  if (download) {
    const bar = h("progress", "bar");
    if (download.total) {
      bar.max = download.total;
      bar.value = download.done;
    }
    out.append(bar, note(download.text));
  }
  if (!compact) out.append(note(`The test model: ${TEST_MODEL_LABEL}`));
  return out;
}

function render(): void {
  box.replaceChildren();
  const head = h("header", "player-head");
  const title = h("h2", "player-title", "Models and settings");
  title.id = "settings-title";
  const close = btn("Close", closeSettings, "Close (Esc)");
  close.id = "settings-close";
  head.append(title, close);
  box.append(head);

  const v = view;
  if (!v) {
    box.append(note(message?.text ?? "Loading…", message?.error ? "settings-error" : "muted"));
    return;
  }
  if (v.warning) box.append(note(v.warning, "settings-warn"));

  // Model
  const m = v.model;
  const model = h("section", "settings-section");
  model.append(h("h3", "settings-heading", "Model"));
  const folder = h("code", "settings-path", m.dir ?? "(none)");
  folder.id = "settings-model-dir";
  model.append(row("Folder", folder));
  if (v.model_locked_by) model.append(note(`Set by ${v.model_locked_by}.`));
  const state = m.present
    ? `${m.version ?? "loaded"}${m.random ? " — random weights" : ""}`
    : m.error
      ? `cannot be loaded: ${m.error}`
      : "no model installed";
  model.append(row("Active", h("span", m.present ? "" : "settings-warn-text", state)));
  if (m.random) model.append(note(RANDOM_WARNING, "settings-warn"));
  model.append(familySection());
  // The weights below are VideoCLIP's, used at once: not offered while the library uses CLIP
  // (the family part above offers VideoCLIP with its estimate and a switch instead).
  const clipActive = m.version?.startsWith("clip-vit-b32") ?? false;
  if (v.official_model_dir && !clipActive)
    model.append(
      note(
        `Downloaded or imported official weights go to ${v.official_model_dir}` +
          (v.model_locked_by ? ` (used once ${v.model_locked_by.split("=")[0]} is unset).` : "."),
      ),
    );
  if (!clipActive) model.append(weightButtons(false));
  model.append(versionsSection());
  box.append(model);

  // Device and precision
  const run = h("section", "settings-section");
  run.append(h("h3", "settings-heading", "Device"));
  const devices = h("div", "settings-choices");
  devices.setAttribute("role", "radiogroup");
  devices.setAttribute("aria-label", "Device");
  const choices: [DeviceChoice, string][] = [
    ["auto", "Auto"],
    ["cpu", "CPU"],
    ["gpu", "GPU"],
  ];
  for (const [value, label] of choices) {
    const l = h("label", "settings-choice");
    const input = h("input");
    input.type = "radio";
    input.name = "settings-device";
    input.value = value;
    input.checked = v.device === value;
    input.disabled = busy !== null || (value === "gpu" && !v.gpu_available);
    if (value === "gpu" && !v.gpu_available) l.title = v.gpu_reason ?? "no GPU in this build";
    input.addEventListener("change", () => {
      void act("Loading the model…", () => updateSettings({ device: value }));
    });
    l.append(input, ` ${label}`);
    devices.append(l);
  }
  run.append(row("Run on", devices));
  run.append(note(`In use: ${v.device_in_use === "gpu" ? "GPU" : "CPU"}.`));
  if (!v.gpu_available)
    run.append(note(`GPU unavailable: ${v.gpu_reason ?? "this build has no GPU support"}.`));

  const precision = h("select");
  precision.id = "settings-precision";
  precision.setAttribute("aria-label", "Text precision for queries");
  for (const [value, label] of [
    ["auto", `Auto (${v.cpu.auto_precision === "q8" ? "8-bit" : "f32"} on this CPU, f32 on a GPU)`],
    ["q8", "8-bit (q8): about 3× faster queries on the CPU"],
    ["f32", "f32: exact"],
  ] as [PrecisionChoice, string][]) {
    const o = h("option", undefined, label);
    o.value = value;
    o.selected = v.text_precision === value;
    precision.append(o);
  }
  precision.disabled = busy !== null || v.precision_locked_by !== null;
  precision.addEventListener("change", () => {
    const value = precision.value as PrecisionChoice;
    void act("Loading the model…", () => updateSettings({ text_precision: value }));
  });
  run.append(row("Query precision", precision));
  if (v.precision_locked_by) run.append(note(`Set by ${v.precision_locked_by}.`));
  const cpu = note(
    `CPU kernels: ${v.cpu.level}` +
      (v.cpu.level !== v.cpu.detected ? ` (capped; this CPU has ${v.cpu.detected})` : "") +
      `, 8-bit kernel: ${v.cpu.q8_kernel ?? "none (candle's fallback)"}. Auto means ${v.cpu.why}.`,
  );
  cpu.id = "settings-cpu";
  run.append(cpu);
  box.append(run);

  // Library
  const lib = h("section", "settings-section");
  lib.append(h("h3", "settings-heading", "Library"));
  const path = h("code", "settings-path", v.library);
  path.id = "settings-library";
  const change = btn(
    "Change…",
    () => void act("Opening the library…", chooseLibraryDialog),
    "Choose another library folder (created if empty); this one stays as it is",
  );
  change.disabled = busy !== null || v.library_locked_by !== null;
  lib.append(row("Folder", path, change));
  if (v.library_locked_by) lib.append(note(`Set by ${v.library_locked_by}.`));
  lib.append(watchedSection());
  box.append(lib);

  if (v.file) box.append(note(`Settings are saved in ${v.file}.`));
  if (busy) box.append(note(busy));
  if (message) box.append(note(message.text, message.error ? "settings-error" : "settings-ok"));
}

/**
 * The watched folders: kept current while the app runs (new videos imported, moved ones
 * relinked, deleted ones marked missing), each with *Stop watching*, and *Watch a folder…*.
 */
function watchedSection(): HTMLElement {
  const part = h("div", "settings-watched");
  part.id = "settings-watched";
  const list = h("ul", "settings-watched-list");
  for (const folder of watched ?? []) {
    const item = h("li");
    const stop = btn(
      "Stop watching",
      () =>
        void act("Updating the watched folders…", async () => {
          watched = await commands.removeWatchedFolder(folder);
        }),
      "Its videos stay in the library",
    );
    stop.disabled = busy !== null;
    item.append(h("code", "settings-path", folder), stop);
    list.append(item);
  }
  const add = btn(
    "Watch a folder…",
    () =>
      void act("Updating the watched folders…", async () => {
        const after = await commands.addWatchedFolderDialog();
        if (after) watched = after;
      }),
    "New videos in it are imported as they appear; moved ones are found again",
  );
  add.disabled = busy !== null || watched === null;
  part.append(row("Watched", watched?.length ? list : h("span", "muted", "none"), add));
  part.append(
    note(
      "While VClip runs, new videos in watched folders are imported once they are complete, " +
        "moved or renamed ones keep their place, and deleted ones are marked missing (kept, " +
        "not searched) until they come back.",
    ),
  );
  return part;
}

/** The empty library's explanation when no model is installed (first run). */
function renderFirstRun(): void {
  const s = status;
  const show =
    !!s && s.library_state.state === "ready" && !s.model.present && !s.model.error;
  firstRun.hidden = !show;
  if (!show) return;
  firstRun.replaceChildren(
    h("h2", "first-run-title", "First, get the model"),
    h(
      "p",
      "first-run-text",
      "VClip finds moments by what is seen and said, with the VideoCLIP model. Its weights " +
        "are not installed yet. Download them (several hundred MB, once; resumable), or import the files if you " +
        "already have them (checkpoint_best.pt, s3d_howto100m.pth and vocab.txt). Until then, " +
        "search finds subtitles and file names only.",
    ),
    weightButtons(false),
  );
  if (message) firstRun.append(note(message.text, message.error ? "settings-error" : "settings-ok"));
}

/** Adds the gear button and the screen; `onChanged` runs after anything that may have
 * reopened the library (the window then reads the app's status again). */
export function initSettings(onChanged: () => void): void {
  changed = onChanged;
  initFamily(onChanged);
  const gear = btn("", () => void openSettings(), "Models and settings");
  gear.id = "settings-open";
  gear.classList.add("button-quiet", "settings-gear");
  gear.setAttribute("aria-label", "Models and settings");
  gear.innerHTML =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="3.2"/>' +
    '<path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1' +
    'M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1"/></svg>';
  document.querySelector(".topbar")?.append(gear);
  document.body.append(dialog);
  document.querySelector("#empty .drop-target")?.prepend(firstRun);
  dialog.addEventListener("click", (e) => {
    if (e.target === dialog) closeSettings();
  });
  document.addEventListener(
    "keydown",
    (e) => {
      if (settingsOpen() && e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        closeSettings();
      }
    },
    true,
  );
  if (inTauri()) void onDownload(onDownloadEvent);
}
