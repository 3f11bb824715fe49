// The single screen: a search box, the import progress, and the library (or the moments found).
// Files and folders dropped anywhere on the window are imported. All text is set with
// textContent: file names, subtitles and error messages are never parsed as HTML.
import { getCurrentWebview } from "@tauri-apps/api/webview";
import {
  addVideosDialog,
  appStatus,
  cancelImport,
  endMessage,
  errorKind,
  errorMessage,
  exportResults,
  importPaths,
  inTauri,
  listVideos,
  onAppStatus,
  onImport,
  removeVideo,
  reopenLibrary,
  retryFailed,
  search,
  searchImage,
  searchImageData,
  searchLike,
  takePendingLink,
  thumbnailUrl,
  videoDetails,
  type AppStatus,
  type FileError,
  type ImportEvent,
  type ImportStarted,
  type Moment,
  type ProbeResult,
  type Progress,
  type TimelineFormat,
  type VideoRow,
} from "./api";
import {
  LIKE_SECONDS,
  initPlayer,
  momentsOfVideo,
  openPlayer,
  playerOpen,
  setMediaBase,
} from "./player";
import { finetuneOpen, initFinetune } from "./finetune";
import { closeDuplicates, duplicatesOpen, initDuplicates } from "./duplicates";
import { initSettings, openSettings, settingsOpen, updateSettingsStatus } from "./settings";
import {
  formatBytes,
  formatDuration,
  formatEta,
  formatFps,
  formatRange,
  formatRate,
  plural,
  splitPath,
  subtitleSummary,
} from "./format";

/** The search box's hint while it searches by words. */
const searchPlaceholder = byId<HTMLInputElement>("search").placeholder;
/** Milliseconds after the last keystroke before a search is sent. */
const SEARCH_DEBOUNCE_MS = 160;
const SEARCH_LIMIT = 30;
/** At most one library refresh this often while an import runs. */
const REFRESH_MS = 700;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id} in index.html`);
  return node as T;
}

function button(label: string, onClick: () => void, variant?: string): HTMLButtonElement {
  const b = el("button", variant ? `button button-${variant}` : "button", label);
  b.type = "button";
  b.addEventListener("click", (e) => {
    e.stopPropagation();
    onClick();
  });
  return b;
}

function chip(text: string, variant?: string): HTMLElement {
  return el("span", variant ? `chip chip-${variant}` : "chip", text);
}

const ui = {
  libraryPath: byId<HTMLElement>("library-path"),
  search: byId<HTMLInputElement>("search"),
  searchSpinner: byId<HTMLElement>("search-spinner"),
  searchExample: byId<HTMLElement>("search-example"),
  searchExampleLabel: byId<HTMLElement>("search-example-label"),
  searchExampleClear: byId<HTMLButtonElement>("search-example-clear"),
  banner: byId<HTMLElement>("banner"),
  bannerText: byId<HTMLElement>("banner-text"),
  bannerAction: byId<HTMLButtonElement>("banner-action"),
  importPanel: byId<HTMLElement>("import-panel"),
  reportPanel: byId<HTMLElement>("report-panel"),
  resumePanel: byId<HTMLElement>("resume-panel"),
  results: byId<HTMLElement>("results"),
  resultsHeading: byId<HTMLElement>("results-heading"),
  resultList: byId<HTMLOListElement>("result-list"),
  exportFormat: byId<HTMLSelectElement>("export-format"),
  exportResults: byId<HTMLButtonElement>("export-results"),
  exportStatus: byId<HTMLElement>("export-status"),
  library: byId<HTMLElement>("library"),
  libraryHeading: byId<HTMLElement>("library-heading"),
  grid: byId<HTMLUListElement>("video-grid"),
  filter: byId<HTMLInputElement>("library-filter"),
  statusFilter: byId<HTMLSelectElement>("library-status"),
  sort: byId<HTMLSelectElement>("library-sort"),
  count: byId<HTMLElement>("library-count"),
  retryAll: byId<HTMLButtonElement>("retry-all-failed"),
  none: byId<HTMLElement>("library-none"),
  clearFilters: byId<HTMLButtonElement>("library-clear-filters"),
  empty: byId<HTMLElement>("empty"),
  emptyText: byId<HTMLElement>("empty-text"),
  addButtons: [
    byId<HTMLButtonElement>("add-videos"),
    byId<HTMLButtonElement>("add-folder"),
    byId<HTMLButtonElement>("empty-add-videos"),
    byId<HTMLButtonElement>("empty-add-folder"),
  ],
  overlay: byId<HTMLElement>("overlay"),
  notice: byId<HTMLElement>("notice"),
};

// ---- state ----

let status: AppStatus | null = null;
let videos: VideoRow[] = [];

let query = "";
/** A search by example (a picture, a moment) in place of the typed query. */
interface ExampleSearch {
  /** What the results are like, as the heading says it: “grab.png”, “cake.mp4 at 0:07”. */
  label: string;
  run: () => Promise<Moment[]>;
}
let example: ExampleSearch | null = null;
let results: Moment[] = [];
let selected = -1;
let searchSeq = 0;
let searchTimer: number | undefined;
let searchError: string | null = null;
/** The query the export status line speaks of (it is cleared when another is typed). */
let exportedFor = "";

/** The import the panel shows: the batch whose events arrive, and what it said last. */
interface ImportView {
  job: number | null;
  phase: "starting" | "running" | "cancelling";
  progress: Progress | null;
  /** Problems reported while it runs (failures and decoding warnings), by file. */
  warnings: FileError[];
  /** Batches accepted while another ran. */
  queued: Set<number>;
}
let importing: ImportView | null = null;
/** Every batch up to this id has ended (a `last` event arrived for it or a later one). */
let endedThrough = 0;

/** What the imports since the panel was last cleared did. */
interface ImportTotals {
  imported: number;
  reembedded: number;
  skipped: number;
  failed: FileError[];
  /** Warnings about files that were imported anyway (e.g. damaged packets skipped). */
  notes: FileError[];
  cancelled: boolean;
  errors: string[];
}
let totals: ImportTotals | null = null;

/** How the library grid is sorted and filtered; kept in localStorage. */
type SortKey = "added" | "name" | "duration" | "status";
type StatusFilter = "all" | "ready" | "importing" | "failed";
interface LibraryView {
  sort: SortKey;
  status: StatusFilter;
  /** Shown: file names containing this (case-insensitive). */
  text: string;
}
const VIEW_KEY = "vclip.library-view";
const SORT_KEYS: readonly SortKey[] = ["added", "name", "duration", "status"];
const STATUS_FILTERS: readonly StatusFilter[] = ["all", "ready", "importing", "failed"];

function loadView(): LibraryView {
  const view: LibraryView = { sort: "added", status: "all", text: "" };
  try {
    const saved: unknown = JSON.parse(window.localStorage.getItem(VIEW_KEY) ?? "null");
    if (saved && typeof saved === "object") {
      const s = saved as Record<string, unknown>;
      if (SORT_KEYS.includes(s.sort as SortKey)) view.sort = s.sort as SortKey;
      if (STATUS_FILTERS.includes(s.status as StatusFilter)) view.status = s.status as StatusFilter;
      if (typeof s.text === "string") view.text = s.text;
    }
  } catch {
    // Storage unavailable or damaged: the defaults.
  }
  return view;
}

function saveView(): void {
  try {
    window.localStorage.setItem(VIEW_KEY, JSON.stringify(libraryView));
  } catch {
    // Not kept; the view still applies in this window.
  }
}

let libraryView = loadView();

/** Failed first (they need attention), then what is being imported, then ready. */
const STATUS_ORDER: Record<VideoRow["status"], number> = {
  failed: 0,
  importing: 1,
  queued: 2,
  ready: 3,
};
const nameCollator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/** The videos the grid shows, in the order it shows them. */
function visibleVideos(): VideoRow[] {
  const text = libraryView.text.trim().toLocaleLowerCase();
  const shown = videos.filter((v) => {
    const s = libraryView.status;
    if (s === "ready" && v.status !== "ready") return false;
    if (s === "failed" && v.status !== "failed") return false;
    if (s === "importing" && v.status !== "importing" && v.status !== "queued") return false;
    return text === "" || splitPath(v.path).name.toLocaleLowerCase().includes(text);
  });
  // Newest first (ids grow with each import) breaks every tie.
  const newest = (a: VideoRow, b: VideoRow): number => b.id - a.id;
  const by: Record<SortKey, (a: VideoRow, b: VideoRow) => number> = {
    added: newest,
    name: (a, b) =>
      nameCollator.compare(splitPath(a.path).name, splitPath(b.path).name) ||
      nameCollator.compare(a.path, b.path) ||
      newest(a, b),
    // Longest first; videos without a duration (not imported yet) last.
    duration: (a, b) => (b.duration_s ?? -1) - (a.duration_s ?? -1) || newest(a, b),
    status: (a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || newest(a, b),
  };
  return shown.sort(by[libraryView.sort]);
}

const filtering = (): boolean => libraryView.status !== "all" || libraryView.text.trim() !== "";

function setView(change: Partial<LibraryView>): void {
  libraryView = { ...libraryView, ...change };
  saveView();
  renderLibrary();
}

/** Library cards by video id, reused while the video is unchanged (keeps thumbnails loaded). */
const cards = new Map<number, { key: string; node: HTMLLIElement }>();
const details = new Map<number, ProbeResult | "loading" | { error: string }>();
let confirmRemove: number | null = null;
let confirmTimer: number | undefined;

let noticeTimer: number | undefined;
function showNotice(text: string, ms = 5000): void {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
  window.clearTimeout(noticeTimer);
  noticeTimer = window.setTimeout(() => {
    ui.notice.hidden = true;
  }, ms);
}

const libraryReady = (): boolean => status?.library_state.state === "ready";
const modelPresent = (): boolean => !!status?.model.present;

// ---- banner: library unavailable, no model, random weights ----

function renderBanner(): void {
  const s = status;
  let text = "";
  let variant = "warn";
  let action: { label: string; run: () => void } | null = null;
  if (s?.library_state.state === "unavailable") {
    variant = "error";
    text = s.library_state.in_use
      ? "This library is open in another VClip window or a vclip command. Close it, then try again."
      : `The library cannot be opened: ${s.library_state.message}`;
    action = {
      label: "Try again",
      run: () => {
        void reopenLibrary().catch((e) => showNotice(errorMessage(e)));
      },
    };
  } else if (s && libraryReady() && s.model.error) {
    text =
      `The model in ${s.model.dir ?? "its folder"} could not be loaded (${s.model.error}). ` +
      "Search uses subtitles and file names only; importing needs a model.";
  } else if (s && libraryReady() && !s.model.present) {
    text =
      "No model is installed: search uses subtitles and file names only, and videos cannot be " +
      "imported yet. Download or import the weights in Models and settings.";
    action = { label: "Get the weights…", run: () => void openSettings() };
  } else if (s?.model.random) {
    text =
      "The active model has random weights (a test model): visual matches mean nothing. " +
      "Subtitle and file-name matches work.";
    action = { label: "Models…", run: () => void openSettings() };
  }
  ui.banner.hidden = text === "";
  ui.banner.className = `banner banner-${variant}`;
  ui.bannerText.textContent = text;
  ui.bannerAction.hidden = action === null;
  if (action) {
    ui.bannerAction.textContent = action.label;
    ui.bannerAction.onclick = action.run;
  }
}

// ---- import progress ----

function renderImportPanel(): void {
  const view = importing;
  ui.importPanel.hidden = view === null;
  if (!view) return;
  const p = view.progress;
  const head = el("div", "panel-head");
  head.append(el("span", "spinner"));
  const title = el("div", "panel-title");
  const filesKnown = p?.items_total !== undefined && p.items_total !== null;
  if (view.phase === "cancelling") {
    title.append(el("strong", undefined, "Cancelling…"));
  } else if (!p || !filesKnown) {
    title.append(el("strong", undefined, "Preparing the import…"));
  } else {
    const total = p.items_total ?? 0;
    const n = Math.min((p.items_done ?? 0) + 1, Math.max(total, 1));
    const what = total === 0 ? "Nothing new to import" : `Importing ${n} of ${total}`;
    title.append(el("strong", undefined, what));
    if (p.current) title.append(el("span", "panel-current", p.current));
  }
  head.append(title);
  const cancel = button("Cancel", () => void onCancel(), "quiet");
  cancel.disabled = view.phase === "cancelling";
  head.append(cancel);

  const bar = el("progress", "bar");
  if (p && p.total !== null && p.total > 0 && filesKnown) {
    bar.max = p.total;
    bar.value = Math.min(p.done, p.total);
  }
  const stats = el("div", "panel-stats");
  if (p && filesKnown && p.total) {
    const parts = [
      `${formatDuration(p.done)} of ${formatDuration(p.total)} of video`,
      formatRate(p.rate),
      formatEta(p.eta_s),
    ].filter((s) => s !== "");
    stats.textContent = parts.join(" · ");
  }
  if (view.queued.size > 0) {
    stats.append(el("span", "muted", ` · then ${plural(view.queued.size, "more drop")}`));
  }
  ui.importPanel.replaceChildren(head, bar, stats);
  if (view.warnings.length > 0) ui.importPanel.append(renderProblems(view.warnings));
}

function renderProblems(problems: FileError[]): HTMLElement {
  const list = el("ul", "problems");
  for (const f of problems) {
    const { name } = splitPath(f.path);
    const item = el("li", "problem");
    item.title = f.path;
    item.append(el("span", "problem-name", name), el("span", "error-message", f.message));
    list.append(item);
  }
  return list;
}

function renderReportPanel(): void {
  const t = totals;
  ui.reportPanel.hidden = t === null || importing !== null;
  if (!t || importing) return;
  const head = el("div", "panel-head");
  const summary: string[] = [];
  if (t.imported > 0) summary.push(`Imported ${plural(t.imported, "video")}`);
  if (t.reembedded > 0) summary.push(`${t.reembedded} updated for the current model`);
  if (t.skipped > 0) summary.push(`${t.skipped} already in the library`);
  if (t.failed.length > 0) summary.push(`${t.failed.length} could not be imported`);
  if (summary.length === 0) summary.push(t.cancelled ? "Import cancelled" : "No new videos found");
  const title = el("div", "panel-title");
  title.append(el("strong", undefined, summary.join(" · ")));
  if (t.cancelled) {
    title.append(
      el("span", "muted", "What was finished is kept; the rest resumes at the next import."),
    );
  }
  head.append(title);
  if (t.failed.length > 0) {
    const paths = t.failed.map((f) => f.path);
    head.append(button("Retry failed", () => void startImport(paths)));
  }
  const dismiss = (): void => {
    totals = null;
    renderReportPanel();
  };
  head.append(button("Dismiss", dismiss, "quiet"));
  ui.reportPanel.replaceChildren(head);
  ui.reportPanel.classList.toggle("report-bad", t.failed.length > 0 || t.errors.length > 0);
  for (const message of t.errors) {
    ui.reportPanel.append(el("p", "error-message", `The import stopped: ${message}`));
  }
  if (t.failed.length > 0) ui.reportPanel.append(renderProblems(t.failed));
  if (t.notes.length > 0) {
    const notes = renderProblems(t.notes);
    notes.classList.add("notes");
    ui.reportPanel.append(notes);
  }
}

function renderResumePanel(): void {
  const unfinished = videos.filter((v) => v.status === "queued" || v.status === "importing");
  const show = unfinished.length > 0 && importing === null && modelPresent() && !status?.job;
  ui.resumePanel.hidden = !show;
  if (!show) return;
  const head = el("div", "panel-head");
  const title = el("div", "panel-title");
  title.append(
    el("strong", undefined, `${plural(unfinished.length, "video")} not finished`),
    el(
      "span",
      "muted",
      `An earlier import stopped before finishing ${unfinished.length === 1 ? "it" : "them"}.`,
    ),
  );
  head.append(title, button("Resume", () => void startImport([])));
  ui.resumePanel.replaceChildren(head);
}

function onImportEvent(ev: ImportEvent): void {
  // A late event of a batch that has ended changes nothing.
  if (importing === null && ev.job <= endedThrough) return;
  // Events may overtake the command's answer: a batch we did not see start opens the panel.
  if (importing === null) beginView(ev.job);
  const view = importing;
  if (!view) return;
  if (view.job === null) view.job = ev.job;
  // Batch ids only grow: an event of an older batch is its late end, not a new start.
  const stale = ev.job < view.job;
  if (!stale && view.job !== ev.job) {
    // The next queued batch has begun.
    view.queued.delete(ev.job);
    view.job = ev.job;
    view.progress = null;
    if (view.phase !== "cancelling") view.phase = "starting";
  }
  if (ev.type === "progress") {
    if (stale) return;
    const e = ev.event;
    if (e.kind === "warning") {
      view.warnings.push({ path: e.item, message: e.message });
      scheduleRefresh();
    } else if (e.kind !== "epoch") {
      // (`epoch` is a training job's event; an import never sends it.)
      const before = view.progress;
      view.progress = e;
      if (view.phase === "starting") view.phase = "running";
      if (
        !before ||
        before.items_done !== e.items_done ||
        before.current !== e.current ||
        e.kind !== "progress"
      ) {
        scheduleRefresh();
      }
    }
    renderImportPanel();
    return;
  }

  const t = totals ?? {
    imported: 0,
    reembedded: 0,
    skipped: 0,
    failed: [],
    notes: [],
    cancelled: false,
    errors: [],
  };
  if (ev.type === "finished") {
    t.imported += ev.result.imported.length;
    t.reembedded += ev.result.reembedded.length;
    t.skipped += ev.result.skipped.length;
    t.failed.push(...ev.result.failed);
    t.cancelled ||= ev.result.cancelled;
    const failed = new Set(ev.result.failed.map((f) => f.path));
    if (!stale) t.notes.push(...view.warnings.filter((w) => !failed.has(w.path)));
    if (!stale) view.warnings = [];
  } else {
    t.errors.push(endMessage(ev));
  }
  totals = t;
  if (ev.last) endedThrough = Math.max(endedThrough, ev.job);
  if (ev.last && !stale) {
    importing = null;
    void refreshStatus();
  }
  refreshNow();
  if (searching()) scheduleSearch(0);
  renderImportPanel();
  renderReportPanel();
}

/** Opens the import panel for batch `job` (null: one that runs but whose id is not known yet). */
function beginView(job: number | null): void {
  if (importing === null) {
    // A new round of imports: the last round's report goes away.
    totals = null;
    importing = { job, phase: "starting", progress: null, warnings: [], queued: new Set() };
  } else if (importing.job === null) {
    importing.job = job;
  }
}

/** Whether an import can start now; if not, says why. */
function readyToImport(again: string): boolean {
  if (!libraryReady()) {
    showNotice(
      status?.library_state.state === "opening"
        ? `The library is still opening; ${again} in a moment.`
        : "The library is not available.",
    );
    return false;
  }
  if (!modelPresent()) {
    showNotice(
      "Importing needs a model: get the weights with `vclip models pull`, then restart VClip.",
      8000,
    );
    return false;
  }
  return true;
}

/** Shows an import batch that has started (or was queued behind the running one). */
function importStarted(started: ImportStarted, what: string): void {
  if (started.queued) {
    if (importing === null) beginView(null);
    importing?.queued.add(started.job);
    showNotice(`Added to the queue: ${what} will be imported next.`);
  } else {
    beginView(started.job);
  }
  renderImportPanel();
  renderReportPanel();
  renderResumePanel();
}

async function startImport(paths: string[]): Promise<void> {
  if (!readyToImport("drop the videos again")) return;
  try {
    importStarted(await importPaths(paths), plural(paths.length, "item"));
  } catch (e) {
    showNotice(`Cannot import: ${errorMessage(e)}`, 8000);
  }
}

/**
 * "Add videos…" / "Add folder…": the app opens a native picker (from Rust: the window may not
 * open dialogs itself), then imports what was picked as it imports a drop. Cancel does nothing.
 */
async function addVideos(folder: boolean): Promise<void> {
  if (!readyToImport("try again")) return;
  for (const b of ui.addButtons) b.disabled = true;
  try {
    const started = await addVideosDialog(folder);
    if (started) importStarted(started, folder ? "the folder" : "the videos");
  } catch (e) {
    showNotice(`Cannot import: ${errorMessage(e)}`, 8000);
  } finally {
    for (const b of ui.addButtons) b.disabled = false;
  }
}

/** "Retry" on a failed card (`ids`: that video) or "Retry all failed" (null). */
async function retry(ids: number[] | null): Promise<void> {
  if (!readyToImport("try again")) return;
  ui.retryAll.disabled = true;
  try {
    const r = await retryFailed(ids);
    if (r.started) importStarted(r.started, plural(r.videos, "failed video"));
    else showNotice("Nothing to retry: no video has failed.");
  } catch (e) {
    showNotice(`Cannot retry: ${errorMessage(e)}`, 8000);
  } finally {
    ui.retryAll.disabled = false;
  }
  refreshNow();
}

async function onCancel(): Promise<void> {
  if (!importing) return;
  importing.phase = "cancelling";
  importing.queued.clear();
  renderImportPanel();
  try {
    await cancelImport();
  } catch (e) {
    showNotice(`Cannot cancel: ${errorMessage(e)}`);
  }
}

// ---- library ----

let refreshTimer: number | undefined;
let refreshing = false;
let refreshAgain = false;

function scheduleRefresh(): void {
  if (refreshTimer !== undefined) return;
  refreshTimer = window.setTimeout(() => {
    refreshTimer = undefined;
    refreshNow();
  }, REFRESH_MS);
}

function refreshNow(): void {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  void refreshLibrary().finally(() => {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      refreshNow();
    }
  });
}

async function refreshLibrary(): Promise<void> {
  if (!libraryReady()) return;
  try {
    videos = await listVideos();
  } catch (e) {
    if (errorKind(e) !== "opening") showNotice(`Cannot list the library: ${errorMessage(e)}`);
    return;
  }
  renderLibrary();
  renderResumePanel();
}

/** An import runs now (a video left `importing` without one is unfinished, not in progress). */
const importRunning = (): boolean => importing !== null || !!status?.job;

function statusChip(v: VideoRow): HTMLElement {
  if (v.missing) {
    const c = chip("missing", "warn");
    c.title = "The file is gone from its folder: kept here, not searched, until it comes back";
    return c;
  }
  if ((v.status === "importing" || v.status === "queued") && !importRunning()) {
    return chip("unfinished", "warn");
  }
  switch (v.status) {
    case "ready":
      return chip(formatDuration(v.duration_s), "strong");
    case "importing":
      return chip("importing", "accent");
    case "queued":
      return chip("queued", "dim");
    case "failed":
      return chip("failed", "error");
  }
}

function thumb(videoId: number, has: boolean, busy: boolean): HTMLElement {
  const box = el("div", "thumb");
  if (busy) {
    box.append(el("span", "spinner"));
  } else if (has) {
    const img = el("img");
    img.alt = "";
    img.loading = "lazy";
    img.decoding = "async";
    img.draggable = false;
    img.addEventListener("error", () => {
      img.remove();
      box.classList.add("thumb-none");
    });
    img.src = thumbnailUrl(videoId);
    box.append(img);
  } else {
    box.classList.add("thumb-none");
  }
  return box;
}

function renderDetails(v: VideoRow): HTMLElement | null {
  const d = details.get(v.id);
  if (d === undefined) return null;
  const box = el("div", "file-details");
  if (d === "loading") {
    box.append(el("span", "spinner"), el("span", "muted", "Reading…"));
  } else if ("error" in d) {
    box.append(el("span", "error-message", d.error));
  } else if (d.status === "error") {
    box.append(el("span", "error-message", d.message));
  } else {
    const info = d.info;
    const video = info.video;
    if (video) {
      const rotated = video.rotation !== 0 ? ` ↻${video.rotation}°` : "";
      box.append(
        chip(`${video.display_width}×${video.display_height}${rotated}`),
        chip(formatFps(video.avg_frame_rate ?? video.real_frame_rate)),
        chip(video.codec),
      );
    }
    const subs =
      info.streams.some((s) => s.kind === "subtitle") || info.sidecar_subtitles.length > 0;
    box.append(
      chip(info.has_audio ? "audio" : "no audio", info.has_audio ? undefined : "dim"),
      chip(subtitleSummary(info), subs ? undefined : "dim"),
      chip(formatBytes(info.size_bytes), "dim"),
    );
  }
  return box;
}

function cardKey(v: VideoRow): string {
  const d = details.get(v.id);
  const dk = d === undefined ? "-" : d === "loading" ? "l" : "d";
  const confirming = confirmRemove === v.id;
  const running = importRunning();
  return [v.path, v.status, v.duration_s, v.error, v.thumbnail, dk, confirming, running].join("|");
}

function renderCard(v: VideoRow): HTMLLIElement {
  const { dir, name } = splitPath(v.path);
  const card = el("li", `video video-${v.status}`);
  card.title = v.path;
  card.append(thumb(v.id, v.thumbnail, v.status === "importing" && importRunning()));
  const body = el("div", "video-body");
  const head = el("div", "file-head");
  head.append(el("span", "file-name", name));
  body.append(head, el("div", "file-dir", dir));
  const meta = el("div", "video-meta");
  meta.append(statusChip(v));
  const actions = el("div", "video-actions");
  const remove =
    confirmRemove === v.id
      ? button("Remove?", () => void doRemove(v), "danger")
      : button("Remove", () => askRemove(v.id), "quiet");
  remove.title = "Take it out of the library. Your file is not touched.";
  if (v.status === "ready" && !v.missing) {
    actions.append(button("Play", () => openPlayer(v.id, v.path, [], 0), "quiet"));
  }
  if (v.status === "failed") {
    const again = button("Retry", () => void retry([v.id]));
    again.classList.add("video-retry");
    again.title = "Import it again (the file may have been fixed or reconnected)";
    actions.append(again);
  }
  actions.append(
    button(details.has(v.id) ? "Less" : "Details", () => void toggleDetails(v), "quiet"),
    remove,
  );
  meta.append(actions);
  body.append(meta);
  if (v.status === "failed" && v.error) body.append(el("p", "error-message video-error", v.error));
  const d = renderDetails(v);
  if (d) body.append(d);
  card.append(body);
  return card;
}

function renderLibrary(): void {
  const searchingNow = searching();
  const hasVideos = videos.length > 0;
  ui.library.hidden = searchingNow || !hasVideos;
  ui.empty.hidden = searchingNow || hasVideos || status?.library_state.state === "unavailable";
  ui.emptyText.textContent =
    modelPresent() || !libraryReady()
      ? "Files or whole folders. Nothing leaves this computer."
      : "Importing needs a model (see above). Nothing leaves this computer.";
  const ready = videos.filter((v) => v.status === "ready");
  const seconds = ready.reduce((s, v) => s + (v.duration_s ?? 0), 0);
  ui.libraryHeading.textContent =
    `${plural(videos.length, "video")}` +
    (ready.length > 0 ? ` · ${formatDuration(seconds)} searchable` : "");
  const shown = visibleVideos();
  const seen = new Set<number>();
  const nodes = shown.map((v) => {
    seen.add(v.id);
    const key = cardKey(v);
    const cached = cards.get(v.id);
    if (cached && cached.key === key) return cached.node;
    const node = renderCard(v);
    cards.set(v.id, { key, node });
    return node;
  });
  for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id);
  ui.grid.replaceChildren(...nodes);
  renderToolbar(shown.length);
}

function renderToolbar(shown: number): void {
  // The controls follow the view (it may come from storage); typing in the box is left alone.
  if (ui.filter.value !== libraryView.text && document.activeElement !== ui.filter) {
    ui.filter.value = libraryView.text;
  }
  ui.statusFilter.value = libraryView.status;
  ui.sort.value = libraryView.sort;
  const filtered = filtering();
  ui.count.textContent = filtered ? `${shown} of ${videos.length}` : "";
  ui.none.hidden = !filtered || shown > 0 || videos.length === 0;
  const failed = videos.filter((v) => v.status === "failed").length;
  ui.retryAll.hidden = failed === 0;
  ui.retryAll.textContent = failed > 1 ? `Retry all ${failed} failed` : "Retry failed";
}

/** "Export results…": the moments shown, as an editor timeline, through the app's dialog. */
async function exportShownResults(): Promise<void> {
  if (results.length === 0) return;
  const q = searchKey();
  const format = ui.exportFormat.value as TimelineFormat;
  const spans = results.map(({ video_id, start_s, end_s }) => ({ video_id, start_s, end_s }));
  ui.exportResults.disabled = true;
  ui.exportStatus.textContent = "";
  exportedFor = q;
  try {
    const done = await exportResults(q, spans, format);
    // Cancelled: nothing to say.
    if (done) {
      const left = done.skipped.length ? `; left out ${done.skipped.join("; ")}` : "";
      ui.exportStatus.textContent = `Exported ${plural(done.moments, "moment")} to ${done.path}${left}`;
    }
  } catch (e) {
    ui.exportStatus.textContent = `Cannot export: ${errorMessage(e)}`;
  } finally {
    ui.exportResults.disabled = results.length === 0;
  }
}

function initToolbar(): void {
  ui.exportResults.addEventListener("click", () => void exportShownResults());
  ui.filter.value = libraryView.text;
  ui.filter.addEventListener("input", () => setView({ text: ui.filter.value }));
  ui.filter.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && ui.filter.value !== "") {
      e.preventDefault();
      e.stopPropagation();
      ui.filter.value = "";
      setView({ text: "" });
    }
  });
  ui.statusFilter.addEventListener("change", () =>
    setView({ status: ui.statusFilter.value as StatusFilter }),
  );
  ui.sort.addEventListener("change", () => setView({ sort: ui.sort.value as SortKey }));
  ui.retryAll.addEventListener("click", () => void retry(null));
  ui.clearFilters.addEventListener("click", () => {
    ui.filter.value = "";
    setView({ status: "all", text: "" });
    ui.filter.focus();
  });
}

async function toggleDetails(v: VideoRow): Promise<void> {
  if (details.has(v.id)) {
    details.delete(v.id);
    renderLibrary();
    return;
  }
  details.set(v.id, "loading");
  renderLibrary();
  try {
    details.set(v.id, await videoDetails(v.id));
  } catch (e) {
    details.set(v.id, { error: errorMessage(e) });
  }
  if (details.has(v.id)) renderLibrary();
}

function askRemove(id: number): void {
  confirmRemove = id;
  window.clearTimeout(confirmTimer);
  confirmTimer = window.setTimeout(() => {
    confirmRemove = null;
    renderLibrary();
  }, 4000);
  renderLibrary();
}

async function doRemove(v: VideoRow): Promise<void> {
  confirmRemove = null;
  window.clearTimeout(confirmTimer);
  try {
    await removeVideo(v.id);
    details.delete(v.id);
    showNotice(`Removed ${splitPath(v.path).name} from the library. The file itself is untouched.`);
  } catch (e) {
    showNotice(`Cannot remove it: ${errorMessage(e)}`, 8000);
  }
  refreshNow();
  if (searching()) scheduleSearch(0);
}

// ---- search ----

/** What the results answer: the typed query, or the example's label. */
function searchKey(): string {
  return example ? `like ${example.label}` : query.trim();
}

function searching(): boolean {
  return searchKey() !== "";
}

/** Searches by `ex` instead of the typed words (which are cleared). */
function searchByExample(ex: ExampleSearch): void {
  example = ex;
  query = "";
  ui.search.value = "";
  ui.searchExampleLabel.textContent = `Like ${ex.label}`;
  ui.searchExample.hidden = false;
  ui.search.placeholder = "Type to search by words instead";
  results = [];
  selected = -1;
  scheduleSearch(0);
}

/** Back to searching by words. */
function clearExample(): void {
  if (!example) return;
  example = null;
  ui.searchExample.hidden = true;
  ui.search.placeholder = searchPlaceholder;
}

/** "More like this" on second `atS` of video `videoId`. */
function moreLike(videoId: number, path: string, atS: number): void {
  const name = splitPath(path).name;
  searchByExample({
    label: `${name} at ${formatDuration(atS)}`,
    run: () => searchLike(videoId, atS, LIKE_SECONDS, SEARCH_LIMIT),
  });
  ui.search.focus();
}

/** The picture file `path` (dropped on the window) as the example. */
function searchPicture(path: string): void {
  searchByExample({
    label: splitPath(path).name,
    run: () => searchImage(path, SEARCH_LIMIT),
  });
}

/** A picture pasted in the search box as the example. */
async function onSearchPaste(e: ClipboardEvent): Promise<void> {
  const file = Array.from(e.clipboardData?.files ?? []).find((f) => f.type.startsWith("image/"));
  if (!file) return; // text: pasted as words
  e.preventDefault();
  const data = new Uint8Array(await file.arrayBuffer());
  searchByExample({
    label: file.name && file.name !== "image.png" ? file.name : "the pasted picture",
    run: () => searchImageData(data, SEARCH_LIMIT),
  });
}

function scheduleSearch(delay = SEARCH_DEBOUNCE_MS): void {
  window.clearTimeout(searchTimer);
  searchTimer = window.setTimeout(() => void runSearch(), delay);
}

async function runSearch(): Promise<void> {
  const q = searchKey();
  const seq = ++searchSeq;
  if (q === "") {
    results = [];
    selected = -1;
    searchError = null;
    ui.searchSpinner.hidden = true;
    renderResults();
    return;
  }
  ui.searchSpinner.hidden = false;
  try {
    const found = example ? await example.run() : await search(q, SEARCH_LIMIT);
    if (seq !== searchSeq) return; // a newer query was typed meanwhile
    const keep = results[selected];
    results = found;
    searchError = null;
    // Keep the selection on the same moment when the results refresh, else the first one.
    const again = keep
      ? found.findIndex((m) => m.video_id === keep.video_id && m.start_s === keep.start_s)
      : -1;
    selected = again >= 0 ? again : found.length > 0 ? 0 : -1;
  } catch (e) {
    if (seq !== searchSeq) return;
    results = [];
    selected = -1;
    searchError = errorKind(e) === "opening" ? "The library is still opening…" : errorMessage(e);
  }
  ui.searchSpinner.hidden = true;
  // The query these results answer (typing runs a search per pause): tests wait for theirs.
  ui.resultList.dataset.query = q;
  renderResults();
}

function renderMoment(m: Moment, i: number): HTMLLIElement {
  const { dir, name } = splitPath(m.path);
  const item = el("li", "moment");
  item.id = `moment-${i}`;
  item.dataset.videoId = String(m.video_id);
  item.dataset.start = String(m.start_s);
  item.dataset.end = String(m.end_s);
  item.setAttribute("role", "option");
  item.setAttribute("aria-selected", String(i === selected));
  item.title = m.path;
  item.addEventListener("mousedown", (e) => e.preventDefault()); // keep the focus in the box
  item.addEventListener("click", () => {
    select(i);
    play(i);
  });
  item.append(thumb(m.video_id, true, false));
  const body = el("div", "moment-body");
  const head = el("div", "file-head");
  head.append(
    el("span", "moment-time", formatRange(m.start_s, m.end_s)),
    el("span", "file-name", name),
  );
  body.append(head);
  if (m.snippet.length > 0) {
    const snippet = el("p", "snippet");
    for (const part of m.snippet) {
      // Matched words in <mark>, the rest as plain text nodes: never parsed as HTML.
      snippet.append(
        part.hit ? el("mark", undefined, part.text) : document.createTextNode(part.text),
      );
    }
    body.append(snippet);
  }
  const meta = el("div", "video-meta");
  for (const s of m.signals) meta.append(chip(s, `signal-${s}`));
  meta.append(el("span", "file-dir", dir));
  const like = button("More like this", () => moreLike(m.video_id, m.path, m.start_s), "quiet");
  like.classList.add("more-like");
  like.title = "Find the moments that look like this one";
  meta.append(like);
  body.append(meta);
  item.append(body);
  return item;
}

function renderResults(): void {
  const searchingNow = searching();
  ui.results.hidden = !searchingNow;
  renderLibrary();
  if (!searchingNow) {
    ui.search.removeAttribute("aria-activedescendant");
    return;
  }
  if (searchError) {
    ui.resultsHeading.textContent = searchError;
    ui.resultList.replaceChildren();
    return;
  }
  ui.resultsHeading.textContent =
    results.length === 0
      ? example
        ? `Nothing looks like ${example.label}`
        : `Nothing found for “${query.trim()}”`
      : example
        ? `${plural(results.length, "moment")} like ${example.label}`
        : plural(results.length, "moment");
  ui.exportResults.disabled = results.length === 0;
  if (searchKey() !== exportedFor) ui.exportStatus.textContent = "";
  ui.resultList.replaceChildren(...results.map(renderMoment));
  updateSelection();
}

function updateSelection(): void {
  const items = ui.resultList.children;
  for (let i = 0; i < items.length; i++) {
    items[i].setAttribute("aria-selected", String(i === selected));
  }
  const current = selected >= 0 ? items[selected] : undefined;
  if (current) {
    ui.search.setAttribute("aria-activedescendant", current.id);
    current.scrollIntoView({ block: "nearest" });
  } else {
    ui.search.removeAttribute("aria-activedescendant");
  }
}

function select(i: number): void {
  if (results.length === 0) return;
  selected = Math.max(0, Math.min(results.length - 1, i));
  updateSelection();
}

/** Plays result `i` from its start, with the video's other moments on the timeline. */
function play(i: number): void {
  const m = results[i];
  if (!m) return;
  const { marks, index } = momentsOfVideo(results, m);
  openPlayer(m.video_id, m.path, marks, index);
}

function onSearchKey(e: KeyboardEvent): void {
  if (e.key === "ArrowDown") {
    e.preventDefault();
    select(selected + 1);
  } else if (e.key === "ArrowUp") {
    e.preventDefault();
    select(selected - 1);
  } else if (e.key === "Home" && e.ctrlKey) {
    select(0);
  } else if (e.key === "End" && e.ctrlKey) {
    select(results.length - 1);
  } else if (e.key === "Enter") {
    e.preventDefault();
    if (selected >= 0) play(selected);
  } else if (e.key === "Escape") {
    e.preventDefault();
    ui.search.value = "";
    query = "";
    clearExample();
    scheduleSearch(0);
  }
}

// ---- status, drag and drop, start ----

async function refreshStatus(): Promise<void> {
  try {
    applyStatus(await appStatus());
  } catch (e) {
    showNotice(`Cannot read the app's status: ${errorMessage(e)}`);
  }
}

function applyStatus(s: AppStatus): void {
  const wasReady = libraryReady();
  status = s;
  setMediaBase(s.media_base);
  ui.libraryPath.textContent = s.library;
  ui.libraryPath.title = s.library;
  // (A status sent before the batch's `last` event may arrive after it.)
  if (s.job !== null && s.job > endedThrough && importing === null) beginView(s.job);
  renderBanner();
  updateSettingsStatus(s);
  renderImportPanel();
  renderReportPanel();
  if (libraryReady() && !wasReady) {
    refreshNow();
    if (searching()) scheduleSearch(0);
    void openPendingLink();
  }
  renderLibrary();
  renderResumePanel();
}

/** The app was started with a moment link (`vclip open LINK`): play it there. */
async function openPendingLink(): Promise<void> {
  try {
    const target = await takePendingLink();
    if (target) {
      const mark = { start_s: target.at_s, end_s: target.at_s, snippet: [] };
      openPlayer(target.video_id, target.path, [mark], 0);
    }
  } catch (e) {
    showNotice(`Cannot open the link: ${errorMessage(e)}`);
  }
}

/** File names of pictures: a picture dropped alone is searched for, not imported. */
const PICTURE = /\.(png|jpe?g|webp|bmp|gif|tiff?|avif|heic)$/i;

function isPicture(path: string): boolean {
  return PICTURE.test(path);
}

function setDragging(on: boolean): void {
  ui.overlay.hidden = !on;
  document.body.classList.toggle("dragging", on);
}

async function start(): Promise<void> {
  initPlayer(moreLike);
  initDuplicates();
  initToolbar();
  // Before the settings screen: its Esc is handled first when it is opened from there.
  initFinetune(() => void refreshStatus());
  initSettings(() => void refreshStatus());
  renderLibrary();
  ui.search.addEventListener("input", () => {
    clearExample();
    query = ui.search.value;
    if (query.trim() === "") scheduleSearch(0);
    else scheduleSearch();
  });
  ui.search.addEventListener("keydown", onSearchKey);
  ui.search.addEventListener("paste", (e) => void onSearchPaste(e));
  ui.searchExampleClear.addEventListener("click", () => {
    clearExample();
    scheduleSearch(0);
    ui.search.focus();
  });
  ui.addButtons.forEach((b, i) => b.addEventListener("click", () => void addVideos(i % 2 === 1)));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && duplicatesOpen() && !playerOpen() && !settingsOpen() && !finetuneOpen()) {
      e.preventDefault();
      closeDuplicates();
      return;
    }
    const active = document.activeElement;
    // "/" is typed as itself in a text field (the library filter); Ctrl+F works from anywhere.
    const inField =
      active instanceof HTMLInputElement ||
      active instanceof HTMLTextAreaElement ||
      active instanceof HTMLSelectElement;
    const slash = e.key === "/" && !inField;
    const find = (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "f" && active !== ui.search;
    if (!playerOpen() && !settingsOpen() && !finetuneOpen() && (slash || find)) {
      e.preventDefault();
      ui.search.focus();
      ui.search.select();
    }
  });

  if (!inTauri()) {
    ui.libraryPath.textContent = "(not running in the VClip window)";
    showNotice("Open this page through the VClip app to use your library.", 60_000);
    return;
  }

  // Listen first, then ask: a status sent in between is not lost.
  await onAppStatus(applyStatus);
  await onImport(onImportEvent);
  await refreshStatus();

  // What a drop does, as a DOM event: the window's end-to-end test sends it (WebDriver cannot
  // perform an OS file drop). Only page scripts can send it, and the CSP allows only this bundle.
  document.addEventListener("vclip:import-paths", (e) => {
    const paths: unknown = (e as CustomEvent<unknown>).detail;
    if (Array.isArray(paths) && paths.every((p) => typeof p === "string")) {
      void startImport(paths);
    }
  });
  await getCurrentWebview().onDragDropEvent((event) => {
    const p = event.payload;
    if (p.type === "enter" || p.type === "over") {
      setDragging(true);
    } else if (p.type === "leave") {
      setDragging(false);
    } else {
      setDragging(false);
      if (p.paths.length === 1 && isPicture(p.paths[0])) searchPicture(p.paths[0]);
      else if (p.paths.length > 0) void startImport(p.paths);
    }
  });
  ui.search.focus();
}

void start().catch((e) => showNotice(`The window failed to start: ${errorMessage(e)}`, 60_000));
