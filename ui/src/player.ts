// The player: a library video served by id by the app's loopback file server (byte ranges, so seeking
// is instant), started at a moment, with every moment found in that video marked on a timeline.
// Keys: Esc closes, N / P go to the next / previous moment, Space plays or pauses.
import {
  errorMessage,
  exportChapters,
  footageElsewhere,
  locateSteps,
  mediaUrl,
  momentLink,
  stepsFromVideo,
  openVideo,
  revealVideo,
  saveClip,
  type ChapterFormat,
  type Moment,
  type SharedFootage,
  type StepSpan,
} from "./api";
import { formatRange, formatDuration, splitPath } from "./format";

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id} in index.html`);
  return node as T;
}

const p = {
  root: byId<HTMLElement>("player"),
  title: byId<HTMLElement>("player-title"),
  sub: byId<HTMLElement>("player-sub"),
  close: byId<HTMLButtonElement>("player-close"),
  video: byId<HTMLVideoElement>("player-video"),
  timeline: byId<HTMLElement>("player-timeline"),
  marks: byId<HTMLElement>("player-marks"),
  cursor: byId<HTMLElement>("player-cursor"),
  snippet: byId<HTMLElement>("player-snippet"),
  prev: byId<HTMLButtonElement>("player-prev"),
  next: byId<HTMLButtonElement>("player-next"),
  count: byId<HTMLElement>("player-count"),
  open: byId<HTMLButtonElement>("player-open"),
  reveal: byId<HTMLButtonElement>("player-reveal"),
  saveClip: byId<HTMLButtonElement>("player-save-clip"),
  copyLink: byId<HTMLButtonElement>("player-copy-link"),
  moreLike: byId<HTMLButtonElement>("player-more-like"),
  elsewhere: byId<HTMLElement>("player-elsewhere"),
  status: byId<HTMLElement>("player-status"),
  error: byId<HTMLElement>("player-error"),
  stepMarks: byId<HTMLElement>("player-steps"),
  steps: byId<HTMLDetailsElement>("steps"),
  stepsInput: byId<HTMLTextAreaElement>("steps-input"),
  stepsOrdered: byId<HTMLInputElement>("steps-ordered"),
  stepsRun: byId<HTMLButtonElement>("steps-run"),
  stepsFromVideo: byId<HTMLButtonElement>("steps-from-video"),
  stepsStatus: byId<HTMLElement>("steps-status"),
  stepsList: byId<HTMLOListElement>("steps-list"),
  exportVtt: byId<HTMLButtonElement>("steps-export-vtt"),
  exportFfmeta: byId<HTMLButtonElement>("steps-export-ffmetadata"),
};

/** A span of the video the player marks (a search moment; or the whole video). */
export interface Mark {
  start_s: number;
  end_s: number;
  snippet: Moment["snippet"];
}

interface Playing {
  videoId: number;
  path: string;
  /** Marks sorted by start. */
  marks: Mark[];
  current: number;
  /** Where the player starts once the file's metadata is known. */
  pendingSeek: number | null;
  /** Steps placed on this video (the Steps panel), in the list's order; starts may be moved. */
  steps: StepSpan[];
  /** The video's duration as the library knows it (chapters must start before it). */
  stepsDuration: number | null;
}

let playing: Playing | null = null;
let mediaBase: string | null = null;

/** Where the app's file server is (from the app status). */
export function setMediaBase(base: string | null): void {
  mediaBase = base;
}
let returnFocus: HTMLElement | null = null;
let onCloseHandler: (() => void) | null = null;

export function playerOpen(): boolean {
  return playing !== null;
}

/** The moments of one video among `results`, in time order, and where `m` is among them. */
export function momentsOfVideo(results: Moment[], m: Moment): { marks: Mark[]; index: number } {
  const marks = results
    .filter((r) => r.video_id === m.video_id)
    .sort((a, b) => a.start_s - b.start_s || a.end_s - b.end_s);
  return { marks, index: Math.max(0, marks.indexOf(m)) };
}

/**
 * Plays `path` (library video `videoId`) from `marks[index].start_s`; every mark is drawn on
 * the timeline. With no marks it plays from the start.
 */
export function openPlayer(
  videoId: number,
  path: string,
  marks: Mark[],
  index: number,
  onClose?: () => void,
): void {
  const same = playing?.videoId === videoId;
  playing = {
    videoId,
    path,
    marks,
    current: Math.max(0, Math.min(index, marks.length - 1)),
    pendingSeek: null,
    steps: same && playing ? playing.steps : [],
    stepsDuration: same && playing ? playing.stepsDuration : null,
  };
  if (!same) {
    p.stepsStatus.textContent = "";
    p.stepsList.replaceChildren();
    p.exportVtt.disabled = p.exportFfmeta.disabled = true;
  }
  onCloseHandler = onClose ?? null;
  if (p.root.hidden) returnFocus = document.activeElement as HTMLElement | null;
  p.root.hidden = false;
  document.body.classList.add("playing");
  p.error.hidden = true;
  p.status.textContent = "";
  const { name, dir } = splitPath(path);
  p.title.textContent = name;
  p.title.title = path;
  p.sub.textContent = dir;
  if (!same) void showElsewhere(videoId);
  const start = marks[playing.current]?.start_s ?? 0;
  if (same && p.video.readyState >= HTMLMediaElement.HAVE_METADATA) {
    seek(start);
  } else if (mediaBase) {
    playing.pendingSeek = start;
    p.video.src = mediaUrl(mediaBase, videoId);
    p.video.load();
  } else {
    p.error.textContent =
      "The player's file server is not running; open the video in the system player instead.";
    p.error.hidden = false;
  }
  render();
  p.video.focus();
}

export function closePlayer(): void {
  if (!playing) return;
  playing = null;
  p.video.pause();
  p.video.removeAttribute("src");
  p.video.load(); // stops the download
  p.root.hidden = true;
  document.body.classList.remove("playing");
  const cb = onCloseHandler;
  onCloseHandler = null;
  returnFocus?.focus();
  returnFocus = null;
  cb?.();
}

/** Goes to the moment `delta` away from the current one (next: 1, previous: -1). */
export function stepMoment(delta: number): void {
  if (!playing || playing.marks.length === 0) return;
  const i = playing.current + delta;
  if (i < 0 || i >= playing.marks.length) return;
  playing.current = i;
  seek(playing.marks[i].start_s);
  render();
}

function seek(t: number): void {
  p.video.currentTime = t;
  void p.video.play().catch(() => {
    /* autoplay refused: the user presses play */
  });
}

function duration(): number {
  const d = p.video.duration;
  return Number.isFinite(d) && d > 0 ? d : 0;
}

function render(): void {
  if (!playing) return;
  const { marks, current } = playing;
  const m = marks[current];
  p.prev.disabled = current <= 0;
  p.next.disabled = current >= marks.length - 1;
  p.prev.hidden = p.next.hidden = marks.length <= 1;
  p.saveClip.disabled = !m;
  p.count.textContent =
    marks.length > 1
      ? `Moment ${current + 1} of ${marks.length}: ${formatRange(m.start_s, m.end_s)}`
      : m
        ? formatRange(m.start_s, m.end_s)
        : "";
  p.snippet.replaceChildren();
  for (const part of m?.snippet ?? []) {
    p.snippet.append(
      part.hit ? Object.assign(document.createElement("mark"), { textContent: part.text })
        : document.createTextNode(part.text),
    );
  }
  p.snippet.hidden = !m || m.snippet.length === 0;
  const d = duration();
  p.marks.replaceChildren(
    ...marks.map((mk, i) => {
      const node = document.createElement("button");
      node.type = "button";
      node.className = i === current ? "timeline-mark current" : "timeline-mark";
      node.title = formatRange(mk.start_s, mk.end_s);
      node.tabIndex = -1;
      if (d > 0) {
        node.style.left = `${(100 * mk.start_s) / d}%`;
        node.style.width = `${Math.max(0.6, (100 * (mk.end_s - mk.start_s)) / d)}%`;
      } else {
        node.hidden = true;
      }
      node.addEventListener("click", () => {
        if (!playing) return;
        playing.current = i;
        seek(mk.start_s);
        render();
      });
      return node;
    }),
  );
  renderSteps();
  renderCursor();
}

/** The nodes of one placed step: its marker on the timeline and its row in the list. */
interface StepNodes {
  mark: HTMLButtonElement;
  go: HTMLButtonElement;
  time: HTMLElement;
}
let stepNodes: StepNodes[] = [];
/** The marker being dragged with a pointer. */
let drag: { index: number; pointer: number; x0: number; moved: boolean } | null = null;
/** A drag just ended on this marker: the click that follows it does not seek. */
let draggedMark: number | null = null;

/** The latest start a step may have: chapters must start before the video's end. */
function latestStart(): number {
  const known = [duration(), playing?.stepsDuration ?? 0].filter((d) => d > 0);
  return known.length > 0 ? Math.max(0, Math.min(...known) - 0.1) : Number.POSITIVE_INFINITY;
}

/**
 * Moves step `i`'s start to `t` seconds (clamped to the video, to a tenth of a second). The end
 * stays unless the start passes it; then the step lasts one second.
 */
function moveStep(i: number, t: number): void {
  const st = playing?.steps[i];
  if (!playing || !st) return;
  const start = Math.round(Math.min(Math.max(0, t), latestStart()) * 10) / 10;
  let end = st.end_s;
  if (end <= start) {
    const d = duration() || playing.stepsDuration || 0;
    end = d > start ? Math.min(d, start + 1) : start + 1;
  }
  playing.steps[i] = { ...st, start_s: start, end_s: end };
  updateStep(i);
  p.video.currentTime = start;
  p.stepsStatus.textContent = `Step ${i + 1} now starts at ${formatDuration(start)}.`;
}

/** Shows step `i`'s current span on its marker and its list row. */
function updateStep(i: number): void {
  const st = playing?.steps[i];
  const nodes = stepNodes[i];
  if (!st || !nodes) return;
  const d = duration();
  const range = formatRange(st.start_s, st.end_s);
  nodes.mark.title = `${i + 1}. ${st.text} (${range}). Drag, or ← / → to move its start`;
  nodes.mark.setAttribute("aria-valuenow", String(st.start_s));
  nodes.mark.setAttribute("aria-valuetext", `step ${i + 1} starts at ${formatDuration(st.start_s)}`);
  if (d > 0) {
    nodes.mark.hidden = false;
    nodes.mark.style.left = `${(100 * st.start_s) / d}%`;
    nodes.mark.setAttribute("aria-valuemax", String(d));
  } else {
    nodes.mark.hidden = true;
  }
  nodes.go.dataset.start = String(st.start_s);
  nodes.go.dataset.end = String(st.end_s);
  nodes.time.textContent = range;
}

/** A step's marker: click to jump there; drag it, or focus it and press ← / →, to move it. */
function stepMarker(i: number, st: StepSpan): HTMLButtonElement {
  const node = document.createElement("button");
  node.type = "button";
  node.className = "timeline-step";
  node.textContent = String(i + 1);
  node.setAttribute("role", "slider");
  node.setAttribute("aria-label", `Start of step ${i + 1}: ${st.text}`);
  node.setAttribute("aria-valuemin", "0");
  node.addEventListener("click", () => {
    if (draggedMark === i) {
      draggedMark = null;
      return;
    }
    const now = playing?.steps[i];
    if (now) seek(now.start_s);
  });
  node.addEventListener("keydown", (e) => {
    const now = playing?.steps[i];
    if (!now) return;
    const by: Record<string, number> = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 };
    let t: number | null = null;
    if (e.key in by) t = now.start_s + by[e.key];
    else if (e.key === "Home") t = 0;
    if (t === null) return;
    e.preventDefault();
    e.stopPropagation();
    moveStep(i, t);
  });
  node.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault(); // no text selection, and the timeline does not seek
    e.stopPropagation();
    node.focus();
    node.setPointerCapture(e.pointerId);
    drag = { index: i, pointer: e.pointerId, x0: e.clientX, moved: false };
  });
  node.addEventListener("pointermove", (e) => {
    if (!drag || drag.index !== i || drag.pointer !== e.pointerId) return;
    if (!drag.moved && Math.abs(e.clientX - drag.x0) < 3) return; // a click, not a drag
    drag.moved = true;
    node.classList.add("dragging");
    const box = p.timeline.getBoundingClientRect();
    const d = duration();
    if (d > 0 && box.width > 0) moveStep(i, (d * (e.clientX - box.left)) / box.width);
  });
  const endDrag = (e: PointerEvent): void => {
    if (!drag || drag.index !== i || drag.pointer !== e.pointerId) return;
    draggedMark = drag.moved ? i : null;
    drag = null;
    node.classList.remove("dragging");
  };
  node.addEventListener("pointerup", endDrag);
  node.addEventListener("pointercancel", endDrag);
  return node;
}

/** The placed steps: numbered, movable markers on the timeline and a clickable list. */
function renderSteps(): void {
  if (drag) return; // the marker being dragged keeps its node (and its pointer capture)
  const steps = playing?.steps ?? [];
  stepNodes = steps.map((st, i) => {
    const go = document.createElement("button");
    go.type = "button";
    go.className = "step";
    go.dataset.second = String(st.second);
    const time = document.createElement("span");
    time.className = "step-time";
    const text = document.createElement("span");
    text.className = "step-text";
    text.textContent = st.text;
    const score = document.createElement("span");
    score.className = "step-score";
    score.textContent = `${Math.round(100 * st.score)}%`;
    score.title = "Confidence: how likely this step is at its second (as placed)";
    go.append(time, text, score);
    go.addEventListener("click", () => {
      const now = playing?.steps[i];
      if (now) seek(now.start_s);
    });
    return { mark: stepMarker(i, st), go, time };
  });
  const focused = stepNodes.length > 0 ? document.activeElement : null;
  const refocus = focused instanceof HTMLElement && p.stepMarks.contains(focused)
    ? [...p.stepMarks.children].indexOf(focused)
    : -1;
  p.stepMarks.replaceChildren(...stepNodes.map((n) => n.mark));
  p.stepsList.replaceChildren(
    ...stepNodes.map((n) => {
      const item = document.createElement("li");
      item.append(n.go);
      return item;
    }),
  );
  stepNodes.forEach((_, i) => updateStep(i));
  if (refocus >= 0) stepNodes[refocus]?.mark.focus();
  p.exportVtt.disabled = p.exportFfmeta.disabled = steps.length === 0;
}

/** Saves the steps as they are now (moved starts included) as chapters, through the app. */
async function saveChapters(format: ChapterFormat): Promise<void> {
  const at = playing;
  if (!at || at.steps.length === 0) return;
  const steps = at.steps.map(({ text, start_s, end_s }) => ({ text, start_s, end_s }));
  p.exportVtt.disabled = p.exportFfmeta.disabled = true;
  try {
    const saved = await exportChapters(at.videoId, steps, format);
    // Cancelled: nothing to say.
    if (saved && playing === at) {
      p.stepsStatus.textContent = `Saved ${saved.chapters} chapters to ${saved.path}`;
    }
  } catch (e) {
    if (playing === at) p.stepsStatus.textContent = `Cannot export: ${errorMessage(e)}`;
  } finally {
    p.exportVtt.disabled = p.exportFfmeta.disabled = (playing?.steps.length ?? 0) === 0;
  }
}

async function placeSteps(): Promise<void> {
  const at = playing;
  if (!at) return;
  const text = p.stepsInput.value;
  if (text.trim() === "") {
    p.stepsStatus.textContent = "Type or paste the steps first, one per line.";
    return;
  }
  p.stepsRun.disabled = true;
  p.stepsStatus.textContent = "Placing…";
  try {
    const report = await locateSteps(at.videoId, text, p.stepsOrdered.checked);
    if (playing !== at) return; // another video meanwhile
    at.steps = report.steps;
    at.stepsDuration = report.duration_s;
    p.stepsStatus.textContent = `${report.steps.length} steps placed ${
      report.ordered ? "in order" : "each where it fits best"
    }. Click one to jump there; drag a marker to correct its start.`;
    renderSteps();
  } catch (e) {
    if (playing === at) p.stepsStatus.textContent = errorMessage(e);
  } finally {
    p.stepsRun.disabled = false;
  }
}

/** Fills the list with the steps the video lists itself, says where they came from, places them. */
async function useVideoSteps(): Promise<void> {
  const at = playing;
  if (!at) return;
  p.stepsFromVideo.disabled = true;
  p.stepsStatus.textContent = "Looking for the video's steps…";
  try {
    const found = await stepsFromVideo(at.videoId);
    if (playing !== at) return;
    p.stepsInput.value = found.steps.map((s, i) => `${i + 1}. ${s}`).join("\n");
    p.stepsOrdered.checked = true;
    await placeSteps();
    if (playing === at) p.stepsStatus.textContent = `${found.how}. ${p.stepsStatus.textContent}`;
  } catch (e) {
    if (playing === at) p.stepsStatus.textContent = errorMessage(e);
  } finally {
    p.stepsFromVideo.disabled = false;
  }
}

function renderCursor(): void {
  const d = duration();
  p.cursor.style.left = d > 0 ? `${(100 * p.video.currentTime) / d}%` : "0";
  p.timeline.title = d > 0 ? `${formatDuration(p.video.currentTime)} / ${formatDuration(d)}` : "";
}

/** The player's time, for tests and the status line. */
export function playerTime(): number {
  return p.video.currentTime;
}

/** "This footage also appears in …": the other videos that share this one's footage. */
async function showElsewhere(videoId: number): Promise<void> {
  p.elsewhere.hidden = true;
  p.elsewhere.replaceChildren();
  let found: SharedFootage[];
  try {
    found = await footageElsewhere(videoId);
  } catch {
    return; // a library still opening or a busy one: the line is a bonus, not an error
  }
  if (playing?.videoId !== videoId || found.length === 0) return;
  p.elsewhere.append(document.createTextNode("This footage also appears in "));
  found.forEach((f, i) => {
    if (i > 0) p.elsewhere.append(document.createTextNode(", "));
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link-button";
    b.textContent = `${splitPath(f.b.path).name} ${formatRange(f.b.start_s, f.b.end_s)}`;
    b.title = `${formatRange(f.a.start_s, f.a.end_s)} here is ${formatRange(f.b.start_s, f.b.end_s)} of ${f.b.path}`;
    b.addEventListener("click", () =>
      openPlayer(f.b.video_id, f.b.path, [{ start_s: f.b.start_s, end_s: f.b.end_s, snippet: [] }], 0),
    );
    p.elsewhere.append(b);
  });
  p.elsewhere.hidden = false;
}

/** "Copy link": a `vclip://` link to the second on screen, on the clipboard. */
async function copyMomentLink(): Promise<void> {
  const at = playing;
  if (!at) return;
  const t = Math.floor(p.video.currentTime * 10) / 10;
  try {
    const link = await momentLink(at.videoId, t);
    // The link is shown at once and stays: a clipboard the system refuses (or never answers)
    // still leaves it to select.
    if (playing === at) p.status.textContent = `Link to ${formatDuration(t)}: ${link}`;
    const copied = await navigator.clipboard.writeText(link).then(
      () => true,
      () => false,
    );
    if (playing === at) {
      p.status.textContent = copied
        ? `Link to ${formatDuration(t)} copied: ${link}`
        : `Link to ${formatDuration(t)} (the clipboard refused it; select it): ${link}`;
    }
  } catch (e) {
    if (playing === at) {
      p.error.textContent = `Cannot copy the link: ${errorMessage(e)}`;
      p.error.hidden = false;
    }
  }
}

/** "Save clip…": the current moment as a video file, through the app's save dialog. */
async function saveMomentClip(): Promise<void> {
  const at = playing;
  const m = at?.marks[at.current];
  if (!at || !m) return;
  p.saveClip.disabled = true;
  p.status.textContent = "";
  try {
    const saved = await saveClip(at.videoId, m.start_s, m.end_s);
    // Cancelled: nothing to say.
    if (saved && playing === at) {
      const how = saved.copied ? "copied" : "re-encoded";
      p.status.textContent = `Saved ${formatRange(saved.start_s, saved.end_s)} (${how}) to ${saved.path}`;
    }
  } catch (e) {
    if (playing === at) {
      p.error.textContent = `Cannot save the clip: ${errorMessage(e)}`;
      p.error.hidden = false;
    }
  } finally {
    p.saveClip.disabled = !(playing?.marks.length ?? 0);
  }
}

async function handOver(open: (id: number) => Promise<void>, what: string): Promise<void> {
  if (!playing) return;
  try {
    p.video.pause();
    await open(playing.videoId);
  } catch (e) {
    p.error.textContent = `Cannot ${what}: ${errorMessage(e)}`;
    p.error.hidden = false;
  }
}

/** Seconds of video a "More like this" example covers. */
export const LIKE_SECONDS = 4;

/**
 * `initPlayer(moreLike)`: the player's "More like this" hands the second on screen (the video,
 * the second, how long) to `moreLike`, which closes the player and shows the search.
 */
export function initPlayer(moreLike: (videoId: number, path: string, atS: number) => void): void {
  p.moreLike.addEventListener("click", () => {
    const at = playing;
    if (!at) return;
    const t = Math.floor(p.video.currentTime);
    closePlayer();
    moreLike(at.videoId, at.path, t);
  });
  p.close.addEventListener("click", closePlayer);
  p.prev.addEventListener("click", () => stepMoment(-1));
  p.next.addEventListener("click", () => stepMoment(1));
  p.open.addEventListener("click", () => void handOver(openVideo, "open it"));
  p.reveal.addEventListener("click", () => void handOver(revealVideo, "show its folder"));
  p.saveClip.addEventListener("click", () => void saveMomentClip());
  p.copyLink.addEventListener("click", () => void copyMomentLink());
  p.stepsRun.addEventListener("click", () => void placeSteps());
  p.stepsFromVideo.addEventListener("click", () => void useVideoSteps());
  p.exportVtt.addEventListener("click", () => void saveChapters("vtt"));
  p.exportFfmeta.addEventListener("click", () => void saveChapters("ffmetadata"));
  p.video.addEventListener("loadedmetadata", () => {
    if (playing?.pendingSeek !== null && playing?.pendingSeek !== undefined) {
      const t = playing.pendingSeek;
      playing.pendingSeek = null;
      seek(t);
    }
    render();
  });
  p.video.addEventListener("timeupdate", renderCursor);
  p.video.addEventListener("durationchange", render);
  p.video.addEventListener("error", () => {
    const code = p.video.error?.code;
    p.error.textContent =
      code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED
        ? "This window cannot play this file's format. Open it in the system player instead."
        : "The video could not be played (the file may have moved).";
    p.error.hidden = false;
  });
  // Clicking the bar seeks there.
  p.timeline.addEventListener("click", (e) => {
    const d = duration();
    if (d <= 0 || e.target !== p.timeline) return;
    const box = p.timeline.getBoundingClientRect();
    p.video.currentTime = (d * (e.clientX - box.left)) / box.width;
  });
  document.addEventListener(
    "keydown",
    (e) => {
      if (!playing) return;
      const typing =
        document.activeElement instanceof HTMLTextAreaElement ||
        (document.activeElement instanceof HTMLInputElement &&
          document.activeElement.type !== "checkbox");
      if (typing && e.key !== "Escape") return;
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        closePlayer();
      } else if ((e.key === "n" || e.key === "N") && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        stepMoment(1);
      } else if ((e.key === "p" || e.key === "P") && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        stepMoment(-1);
      } else if (e.key === " " && document.activeElement !== p.video) {
        e.preventDefault();
        if (p.video.paused) void p.video.play().catch(() => undefined);
        else p.video.pause();
      }
    },
    true,
  );
}
