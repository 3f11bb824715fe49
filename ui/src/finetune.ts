// Fine-tuning the model on this library and its model versions (issue #8): the "Fine-tune…"
// dialog (what there is to train on, a time estimate measured on this computer, the device, a
// few settings; then a live loss curve, held-out recall per epoch and Cancel; at the end "Use
// the new model" and "Roll back") and the versions list of the settings screen. The commands
// and the `finetune` event are `src-tauri/src/finetune.rs`'s.
import * as commands from "./bindings/commands";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { errorMessage, inTauri } from "./api";
import { formatEta, plural } from "./format";
import "./finetune.css";

// ---- types (generated from the Rust types by ts-rs: see ui/src/bindings) ----

import type { JobEvent } from "./bindings/JobEvent";
import type { FinetuneInfo } from "./bindings/FinetuneInfo";
import type { FinetuneResult } from "./bindings/FinetuneResult";
import type { FinetuneSettings } from "./bindings/FinetuneSettings";
import type { Progress } from "./bindings/Progress";
import type { RecallMetrics } from "./bindings/RecallMetrics";
import type { VersionEntry } from "./bindings/VersionEntry";
import type { VersionsView } from "./bindings/VersionsView";
import { btn, h } from "./dom";

export type {
  FinetuneInfo,
  FinetuneResult,
  FinetuneSettings,
  RecallMetrics,
  VersionEntry,
  VersionsView,
};

// ---- commands ----

/** What a fine-tune would train on and how long it takes here (`null`: suggested settings). */
export function finetunePlan(settings: FinetuneSettings | null): Promise<FinetuneInfo> {
  return commands.finetunePlan(settings);
}

export function startFinetune(settings: FinetuneSettings): Promise<void> {
  return commands.startFinetune(settings);
}

export function cancelFinetune(): Promise<boolean> {
  return commands.cancelFinetune();
}

export function modelVersions(): Promise<VersionsView> {
  return commands.modelVersions();
}

/** Switches the library to a model version (re-embedding it only if needed). */
export function useModelVersion(version: string): Promise<VersionsView> {
  return commands.useModelVersion(version);
}

export function rollbackModel(): Promise<VersionsView> {
  return commands.rollbackModel();
}

/** The fine-tune's events (`finetune`). */
export type FinetuneEvent = JobEvent<FinetuneResult>;
/** A version switch's events (`version-switch`). */
export type VersionSwitchEvent = JobEvent<VersionsView>;

export function onFinetune(handler: (event: FinetuneEvent) => void): Promise<UnlistenFn> {
  return listen<FinetuneEvent>("finetune", (e) => handler(e.payload));
}

export function onVersionSwitch(handler: (event: VersionSwitchEvent) => void): Promise<UnlistenFn> {
  return listen<VersionSwitchEvent>("version-switch", (e) => handler(e.payload));
}

// ---- pure helpers (exported for reuse) ----

/** Seconds a run with `s` should take, scaled from the plan measured with `info.settings`. */
export function estimateSeconds(info: FinetuneInfo, s: FinetuneSettings): number | null {
  const p = info.plan;
  if (!p || p.videos < 2) return null;
  // A step's time is about proportional to its pairs (videos in the batch × pairs each).
  const measured = Math.min(info.settings.batch_videos, p.videos) * info.settings.pairs_per_video;
  const pairs = Math.min(s.batch_videos, p.videos) * s.pairs_per_video;
  const perStep = measured > 0 ? (p.step_s * pairs) / measured : p.step_s;
  const steps = Math.ceil(p.videos / Math.max(1, s.batch_videos)) * s.epochs;
  return perStep * steps + p.eval_s * (s.epochs + 1) + p.cluster_s * s.epochs;
}

/** "about 40 s", "about 12 min", "about 3 h 10 min". */
export function formatLong(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "unknown";
  if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s`;
  const min = Math.round(seconds / 60);
  if (min < 90) return `about ${min} min`;
  return `about ${Math.floor(min / 60)} h ${min % 60} min`;
}

/** 0.0123 → "0.012 s", 4.56 → "4.6 s", 75 → "75 s". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "–";
  if (s < 1) return `${Number(s.toPrecision(2))} s`;
  return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
}

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

/** The points of the loss curve as an SVG polyline in a `w` × `h` box. */
export function lossPath(points: [number, number][], total: number, w: number, h: number): string {
  if (points.length === 0) return "";
  const losses = points.map((p) => p[1]);
  const lo = Math.min(...losses);
  const hi = Math.max(...losses);
  const span = hi - lo || 1;
  const steps = Math.max(total, points[points.length - 1][0], 1);
  return points
    .map(([step, loss]) => {
      const x = (step / steps) * w;
      const y = h - ((loss - lo) / span) * (h - 8) - 4;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

// ---- state ----

interface EpochRow {
  epoch: number;
  mean_loss: number | null;
  heldout: RecallMetrics;
}

interface Run {
  phase: "running" | "cancelling" | "finished" | "cancelled" | "failed";
  progress: Progress | null;
  /** (step, loss) of every step seen. */
  losses: [number, number][];
  total: number;
  epochs: EpochRow[];
  warnings: string[];
  result: FinetuneResult | null;
  message: string | null;
  /** The new model is in use (after "Use the new model"). */
  used: boolean;
}

let info: FinetuneInfo | null = null;
let settings: FinetuneSettings | null = null;
let planning = false;
let planError: string | null = null;
let run: Run | null = null;
let versions: VersionsView | null = null;
let switching: { text: string; done: number; total: number | null } | null = null;
let notice: { text: string; error: boolean } | null = null;
let changed: () => void = () => {};
let lastFocus: Element | null = null;


const SVG = "http://www.w3.org/2000/svg";

const dialog = h("section", "player finetune");
dialog.id = "finetune";
dialog.hidden = true;
dialog.setAttribute("role", "dialog");
dialog.setAttribute("aria-modal", "true");
dialog.setAttribute("aria-labelledby", "finetune-title");
const box = h("div", "player-box finetune-box");
dialog.append(box);

/** The versions list of the settings screen (kept here, placed there). */
const versionsBox = h("div", "finetune-versions");
versionsBox.id = "settings-versions";

export function finetuneOpen(): boolean {
  return !dialog.hidden;
}

const running = (): boolean => run?.phase === "running" || run?.phase === "cancelling";

/** Opens the dialog; measures the plan unless a run is going on or was just shown. */
export async function openFinetune(): Promise<void> {
  if (!finetuneOpen()) lastFocus = document.activeElement;
  dialog.hidden = false;
  if (!running() && !(run && run.phase === "finished" && !run.used)) {
    run = null;
    await measure(null);
  } else {
    render();
  }
  dialog.querySelector<HTMLElement>("#finetune-close")?.focus();
}

export function closeFinetune(): void {
  dialog.hidden = true;
  if (lastFocus instanceof HTMLElement) lastFocus.focus();
}

async function measure(with_: FinetuneSettings | null): Promise<void> {
  planning = true;
  planError = null;
  render();
  try {
    info = await finetunePlan(with_);
    settings = { ...info.settings };
  } catch (e) {
    planError = errorMessage(e);
  } finally {
    planning = false;
    render();
  }
}

async function refreshVersions(): Promise<void> {
  try {
    versions = await modelVersions();
  } catch (e) {
    versions = null;
    notice = { text: errorMessage(e), error: true };
  }
  renderVersions();
  if (finetuneOpen()) render();
}

/** The settings screen opened or the app's status changed: read the versions again. */
export function updateVersions(): void {
  if (inTauri()) void refreshVersions();
}

async function start(): Promise<void> {
  if (!settings || running()) return;
  run = {
    phase: "running",
    progress: null,
    losses: [],
    total: 0,
    epochs: [],
    warnings: [],
    result: null,
    message: null,
    used: false,
  };
  notice = null;
  render();
  try {
    await startFinetune(settings);
  } catch (e) {
    run.phase = "failed";
    run.message = errorMessage(e);
    render();
  }
}

async function switchTo(what: () => Promise<VersionsView>, doing: string): Promise<void> {
  if (switching) return;
  switching = { text: doing, done: 0, total: null };
  notice = null;
  render();
  renderVersions();
  try {
    versions = await what();
    const v = versions.in_use ?? versions.active;
    notice = { text: `The library now uses ${v ?? "the chosen model"}.`, error: false };
    if (run?.result && v === run.result.model_version) run.used = true;
    else if (run) run.used = false;
  } catch (e) {
    notice = { text: errorMessage(e), error: true };
  } finally {
    switching = null;
    render();
    renderVersions();
    changed();
  }
}

function useNew(): void {
  const v = run?.result?.model_version;
  if (v) void switchTo(() => useModelVersion(v), "Switching to the new model…");
}

function rollBack(): void {
  void switchTo(rollbackModel, "Rolling back…");
}

function onSwitchEvent(ev: VersionSwitchEvent): void {
  // The command's answer ends the switch; only its progress is shown from here.
  if (ev.type !== "progress") return;
  const e = ev.event;
  if (e.kind !== "warning" && e.kind !== "epoch") {
    switching = {
      text: `Re-embedding the library with this version: ${e.done} of ${e.total ?? "?"} videos`,
      done: e.done,
      total: e.total,
    };
  }
  render();
}

function onEvent(ev: FinetuneEvent): void {
  // A run started elsewhere (another dialog instance is impossible; after a reload): adopt it.
  if (!run) {
    run = {
      phase: "running",
      progress: null,
      losses: [],
      total: 0,
      epochs: [],
      warnings: [],
      result: null,
      message: null,
      used: false,
    };
  }
  const r = run;
  if (ev.type === "progress") {
    const e = ev.event;
    if (e.kind === "warning") {
      r.warnings.push(`${e.item}: ${e.message}`);
    } else if (e.kind === "epoch") {
      r.epochs.push({ epoch: e.epoch, mean_loss: e.mean_loss, heldout: e.heldout });
    } else {
      r.progress = e;
      if (e.total !== null) r.total = e.total;
      if (e.train && e.kind === "progress") {
        const last = r.losses[r.losses.length - 1];
        if (!last || last[0] !== e.done) r.losses.push([e.done, e.train.loss]);
      }
    }
  } else if (ev.type === "finished") {
    r.phase = "finished";
    r.result = ev.result;
    void refreshVersions();
    changed();
  } else if (ev.type === "cancelled") {
    r.phase = "cancelled";
    r.message = ev.message;
  } else if (ev.type === "failed") {
    r.phase = "failed";
    r.message = ev.error.message;
  }
  render();
}

// ---- rendering ----

function section(title: string): HTMLElement {
  const s = h("section", "settings-section");
  s.append(h("h3", "settings-heading", title));
  return s;
}

function note(text: string, cls = "muted"): HTMLElement {
  return h("p", `settings-note ${cls}`, text);
}

function numberField(
  label: string,
  id: string,
  value: number,
  opts: { min: number; max?: number; step: string },
  set: (v: number) => void,
): HTMLElement {
  const l = h("label", "finetune-field");
  l.append(h("span", "finetune-field-label", label));
  const input = h("input");
  input.type = "number";
  input.id = id;
  input.min = String(opts.min);
  if (opts.max !== undefined) input.max = String(opts.max);
  input.step = opts.step;
  input.value = String(value);
  input.disabled = running();
  input.addEventListener("change", () => {
    const v = Number(input.value);
    if (Number.isFinite(v) && v >= opts.min && (opts.max === undefined || v <= opts.max)) {
      set(v);
      renderEstimate();
    } else {
      input.value = String(value);
    }
  });
  l.append(input);
  return l;
}

const estimate = h("p", "settings-note");
estimate.id = "finetune-estimate";

function renderEstimate(): void {
  if (!info?.plan || !settings) {
    estimate.textContent = "";
    return;
  }
  const secs = estimateSeconds(info, settings);
  const steps = Math.ceil(info.plan.videos / Math.max(1, settings.batch_videos)) * settings.epochs;
  estimate.textContent =
    secs === null
      ? ""
      : `Estimated time: ${formatLong(secs)} for ${plural(steps, "step")} ` +
        `(${formatSeconds(info.plan.step_s)} per step, timed on this computer).`;
}

function lossChart(r: Run): HTMLElement {
  const W = 560;
  const H = 140;
  const wrap = h("figure", "finetune-chart");
  const svg = document.createElementNS(SVG, "svg");
  svg.id = "finetune-loss";
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const last = r.losses[r.losses.length - 1];
  svg.setAttribute(
    "aria-label",
    last ? `Training loss, step ${last[0]}: ${fmt(last[1], 4)}` : "Training loss (no step yet)",
  );
  const frame = document.createElementNS(SVG, "rect");
  frame.setAttribute("class", "finetune-chart-frame");
  frame.setAttribute("x", "0");
  frame.setAttribute("y", "0");
  frame.setAttribute("width", String(W));
  frame.setAttribute("height", String(H));
  svg.append(frame);
  // Epoch boundaries.
  const epochs = r.progress?.train?.epochs ?? 0;
  if (epochs > 1 && r.total > 0) {
    for (let e = 1; e < epochs; e++) {
      const x = ((r.total / epochs) * e * W) / r.total;
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("class", "finetune-chart-epoch");
      line.setAttribute("x1", x.toFixed(1));
      line.setAttribute("x2", x.toFixed(1));
      line.setAttribute("y1", "0");
      line.setAttribute("y2", String(H));
      svg.append(line);
    }
  }
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("class", "finetune-chart-line");
  line.setAttribute("points", lossPath(r.losses, r.total, W, H));
  svg.append(line);
  wrap.append(svg);
  const losses = r.losses.map((p) => p[1]);
  const cap = h(
    "figcaption",
    "muted",
    losses.length === 0
      ? "Training loss: waiting for the first step…"
      : `Training loss per step: ${fmt(Math.max(...losses), 3)} (top) to ${fmt(Math.min(...losses), 3)} (bottom); last ${fmt(losses[losses.length - 1], 4)}.`,
  );
  wrap.append(cap);
  return wrap;
}

function epochTable(rows: EpochRow[]): HTMLElement {
  const table = h("table", "finetune-epochs");
  table.id = "finetune-epochs";
  const head = h("tr");
  for (const c of ["Epoch", "Mean loss", "R@1", "R@5", "R@10", "Median rank"]) {
    head.append(h("th", undefined, c));
  }
  const thead = h("thead");
  thead.append(head);
  const body = h("tbody");
  for (const r of rows) {
    const tr = h("tr");
    tr.append(
      h("td", undefined, r.epoch === 0 ? "before" : String(r.epoch)),
      h("td", undefined, r.mean_loss === null ? "–" : fmt(r.mean_loss, 4)),
      h("td", undefined, fmt(r.heldout.r1)),
      h("td", undefined, fmt(r.heldout.r5)),
      h("td", undefined, fmt(r.heldout.r10)),
      h("td", undefined, fmt(r.heldout.median_rank, 1)),
    );
    body.append(tr);
  }
  table.append(thead, body);
  return table;
}

function renderRun(r: Run): HTMLElement {
  const s = section("Training");
  const p = r.progress;
  const t = p?.train;
  const bar = h("progress", "bar");
  if (r.total > 0 && p) {
    bar.max = r.total;
    bar.value = Math.min(p.done, r.total);
  }
  const status = h("p", "finetune-status");
  status.id = "finetune-status";
  status.setAttribute("role", "status");
  if (r.phase === "running" || r.phase === "cancelling") {
    const parts: string[] = [];
    if (r.phase === "cancelling") parts.push("Cancelling after this step…");
    else if (!p) parts.push("Measuring recall before training…");
    if (p && r.total > 0) parts.push(`step ${p.done} of ${r.total}`);
    if (t) {
      parts.push(`epoch ${t.epoch} of ${t.epochs}`);
      parts.push(`loss ${fmt(t.loss, 4)}`);
      parts.push(`lr ${t.lr.toExponential(1)}`);
      parts.push(`${t.pairs_per_s.toFixed(1)} pairs/s`);
    }
    const eta = formatEta(p?.eta_s);
    if (eta) parts.push(eta);
    status.textContent = parts.join(" · ");
  } else if (r.phase === "finished" && r.result) {
    const res = r.result;
    status.textContent =
      `Done: held-out R@1 ${fmt(res.before.r1)} → ${fmt(res.after.r1)}, median rank ` +
      `${fmt(res.before.median_rank, 1)} → ${fmt(res.after.median_rank, 1)} (best epoch ` +
      `${res.best_epoch} of ${res.epochs}). The new model is ${res.model_version}.`;
  } else {
    status.textContent = r.message ?? "";
    status.classList.toggle("settings-error", r.phase === "failed");
  }
  s.append(status);
  if (r.phase === "running" || r.phase === "cancelling") s.append(bar);
  s.append(lossChart(r));
  if (r.epochs.length > 0) {
    s.append(h("h4", "finetune-subheading", "Held-out recall (text → video) after each epoch"));
    s.append(epochTable(r.epochs));
  }
  for (const w of r.warnings) s.append(note(w, "settings-warn"));
  const actions = h("div", "settings-actions");
  if (r.phase === "running" || r.phase === "cancelling") {
    const c = btn("Cancel", () => {
      if (!run) return;
      run.phase = "cancelling";
      render();
      void cancelFinetune();
    });
    c.id = "finetune-cancel";
    c.disabled = r.phase === "cancelling";
    actions.append(c);
  } else if (r.phase === "finished" && r.result) {
    const use = btn(
      "Use the new model",
      useNew,
      "Switch the library to the fine-tuned model (it is re-embedded from the feature cache, no decoding)",
    );
    use.id = "finetune-use";
    const locked = versions?.locked_by ?? null;
    use.disabled = r.used || switching !== null || locked !== null;
    actions.append(use);
    const back = btn(
      "Roll back",
      rollBack,
      "Go back to the model version that was in use before",
    );
    back.id = "finetune-rollback";
    back.disabled = !r.used || switching !== null;
    actions.append(back);
    if (locked) {
      s.append(actions);
      s.append(note(`${locked} decides the model of this window: unset it to use the new one.`));
      return s;
    }
  } else {
    actions.append(btn("Start again…", () => void openFinetuneFresh()));
  }
  s.append(actions);
  return s;
}

async function openFinetuneFresh(): Promise<void> {
  run = null;
  await measure(settings);
}

function renderSetup(): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (planning) {
    const s = section("Your data");
    s.append(
      note(
        "Looking at the library and timing a few training steps on this computer…",
      ),
    );
    const spin = h("span", "spinner");
    s.append(spin);
    out.push(s);
    return out;
  }
  if (planError) {
    out.push(note(planError, "settings-error"));
    return out;
  }
  const i = info;
  const st = settings;
  if (!i || !st) return out;

  const data = section("Your data");
  const summary = h("p", "finetune-summary");
  summary.id = "finetune-summary";
  if (i.plan) {
    summary.textContent =
      `${plural(i.plan.videos, "video")} with subtitles or text on screen and cached features ` +
      `(of ${plural(i.library_videos, "ready video")}): ` +
      `${plural(i.plan.train_captions, "caption")} to train on` +
      (i.plan.screen_captions > 0 ? ` (${i.plan.screen_captions} read off the screen), ` : ", ") +
      `${i.plan.heldout_queries} held-out ${i.plan.heldout_queries === 1 ? "query" : "queries"} ` +
      "to measure text → video recall.";
  } else {
    summary.textContent = `${plural(i.library_videos, "ready video")} in the library.`;
  }
  data.append(summary);
  data.append(
    note(
      `Starts from ${i.base_version ?? "no model"}${i.random_weights ? " (random weights: the numbers mean little)" : ""}. ` +
        "The subtitles are the training text; no video is decoded (the features come from the library's cache).",
    ),
  );
  if (i.problem) {
    const p = note(i.problem, "settings-warn");
    p.id = "finetune-problem";
    data.append(p);
  }
  out.push(data);

  const device = section("Device and time");
  const dev = h("p", "finetune-device", `Runs on: ${i.device}. ${i.device_note}`);
  dev.title = "Where the training steps run";
  dev.id = "finetune-device";
  device.append(dev);
  renderEstimate();
  device.append(estimate);
  out.push(device);

  const opts = section("Settings");
  const grid = h("div", "finetune-grid");
  grid.append(
    numberField("Epochs", "finetune-epochs-input", st.epochs, { min: 1, max: 10000, step: "1" }, (v) => (st.epochs = Math.round(v))),
    numberField("Learning rate", "finetune-lr", st.lr, { min: 1e-8, max: 1, step: "any" }, (v) => (st.lr = v)),
    numberField("Videos per batch", "finetune-batch", st.batch_videos, { min: 2, max: 1024, step: "1" }, (v) => (st.batch_videos = Math.round(v))),
    numberField("Pairs per video", "finetune-pairs", st.pairs_per_video, { min: 1, max: 256, step: "1" }, (v) => (st.pairs_per_video = Math.round(v))),
    numberField("Held-out fraction", "finetune-holdout", st.holdout, { min: 0.01, max: 0.9, step: "0.05" }, (v) => (st.holdout = v)),
  );
  opts.append(grid);
  opts.append(
    note(
      "Defaults: the paper's recipe (learning rate 5e-5, 16 overlapped pairs per video) with " +
        "batches of your whole library up to 32 videos. The best epoch on the held-out " +
        "captions is kept as a new model version; the one in use now stays until you switch.",
    ),
  );
  const actions = h("div", "settings-actions");
  const go = btn("Start fine-tuning", () => void start());
  go.id = "finetune-start";
  go.disabled = !!i.problem || i.running || !i.plan;
  actions.append(go);
  if (i.running) actions.append(note("A fine-tune is already running."));
  opts.append(actions);
  out.push(opts);
  return out;
}

function render(): void {
  box.replaceChildren();
  const head = h("header", "player-head");
  const title = h("h2", "player-title", "Fine-tune the model on this library");
  title.id = "finetune-title";
  const close = btn("Close", closeFinetune, "Close (Esc); a running fine-tune carries on");
  close.id = "finetune-close";
  head.append(title, close);
  box.append(head);
  if (run) box.append(renderRun(run));
  else box.append(...renderSetup());
  if (switching) {
    const s = h("div", "finetune-switching");
    const bar = h("progress", "bar");
    if (switching.total) {
      bar.max = switching.total;
      bar.value = switching.done;
    }
    s.append(note(switching.text), bar);
    box.append(s);
  }
  if (notice) box.append(note(notice.text, notice.error ? "settings-error" : "settings-ok"));
}

/** The versions list (settings screen): the active one marked, Use / Roll back, Fine-tune…. */
function renderVersions(): void {
  const v = versions;
  versionsBox.replaceChildren();
  const head = h("div", "finetune-versions-head");
  head.append(h("span", "settings-label", "Versions"));
  const ft = btn("Fine-tune…", () => void openFinetune(), "Train the model on this library's videos and subtitles");
  ft.id = "settings-finetune";
  head.append(ft);
  if (v?.rollback_to) {
    const rb = btn("Roll back", rollBack, `Back to ${v.rollback_to}`);
    rb.id = "settings-rollback";
    rb.disabled = v.busy || switching !== null || v.locked_by !== null;
    head.append(rb);
  }
  versionsBox.append(head);
  if (!v) return;
  if (v.error) {
    versionsBox.append(note(v.error, "settings-error"));
    return;
  }
  if (v.locked_by) versionsBox.append(note(`${v.locked_by} decides the model: switching is off.`));
  if (v.versions.length === 0) {
    versionsBox.append(
      note("No versions recorded yet: a fine-tune records the model it starts from and the new one."),
    );
    return;
  }
  const list = h("ul", "finetune-version-list");
  for (const e of v.versions) {
    const li = h("li", "finetune-version");
    const active = e.version === v.active;
    if (active) li.classList.add("finetune-version-active");
    const name = h("code", undefined, e.version);
    li.append(name);
    if (active) li.append(h("span", "chip", "active"));
    const facts: string[] = [];
    if (e.parent) facts.push(`fine-tuned from ${e.parent.split("/").pop()?.slice(0, 12) ?? e.parent}`);
    if (e.finetune) facts.push(`held-out R@1 ${fmt(e.finetune.before.r1)} → ${fmt(e.finetune.after.r1)}`);
    if (e.random_weights) facts.push("random weights");
    facts.push(new Date(e.created_unix * 1000).toLocaleString());
    li.append(h("span", "muted finetune-version-facts", facts.join(" · ")));
    if (!active) {
      const use = btn("Use", () => void switchTo(() => useModelVersion(e.version), "Switching…"));
      use.disabled = v.busy || switching !== null || v.locked_by !== null;
      li.append(use);
    }
    li.title = e.dir;
    list.append(li);
  }
  versionsBox.append(list);
  if (switching) versionsBox.append(note(switching.text));
}

/** The versions list to place in the settings screen. */
export function versionsSection(): HTMLElement {
  renderVersions();
  return versionsBox;
}

/** Adds the dialog; `onChanged` runs after anything that may have reopened the library. */
export function initFinetune(onChanged: () => void): void {
  changed = onChanged;
  document.body.append(dialog);
  document.querySelector("#finetune-open")?.addEventListener("click", () => void openFinetune());
  dialog.addEventListener("click", (e) => {
    if (e.target === dialog) closeFinetune();
  });
  document.addEventListener(
    "keydown",
    (e) => {
      if (finetuneOpen() && e.key === "Escape") {
        e.preventDefault();
        e.stopImmediatePropagation();
        closeFinetune();
      }
    },
    true,
  );
  if (inTauri()) {
    void onFinetune(onEvent);
    void onVersionSwitch(onSwitchEvent);
  }
}
