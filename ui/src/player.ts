// The player: a library video served by id by the app's loopback file server (byte ranges, so seeking
// is instant), started at a moment, with every moment found in that video marked on a timeline.
// Keys: Esc closes, N / P go to the next / previous moment, Space plays or pauses.
import {
  errorMessage,
  locateSteps,
  mediaUrl,
  openVideo,
  revealVideo,
  type Moment,
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
  error: byId<HTMLElement>("player-error"),
  stepMarks: byId<HTMLElement>("player-steps"),
  steps: byId<HTMLDetailsElement>("steps"),
  stepsInput: byId<HTMLTextAreaElement>("steps-input"),
  stepsOrdered: byId<HTMLInputElement>("steps-ordered"),
  stepsRun: byId<HTMLButtonElement>("steps-run"),
  stepsStatus: byId<HTMLElement>("steps-status"),
  stepsList: byId<HTMLOListElement>("steps-list"),
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
  /** Steps placed on this video (the Steps panel). */
  steps: StepSpan[];
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
  };
  if (!same) {
    p.stepsStatus.textContent = "";
    p.stepsList.replaceChildren();
  }
  onCloseHandler = onClose ?? null;
  if (p.root.hidden) returnFocus = document.activeElement as HTMLElement | null;
  p.root.hidden = false;
  document.body.classList.add("playing");
  p.error.hidden = true;
  const { name, dir } = splitPath(path);
  p.title.textContent = name;
  p.title.title = path;
  p.sub.textContent = dir;
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

/** The placed steps: numbered ticks on the timeline and a clickable list. */
function renderSteps(): void {
  const steps = playing?.steps ?? [];
  const d = duration();
  p.stepMarks.replaceChildren(
    ...steps.map((st, i) => {
      const node = document.createElement("button");
      node.type = "button";
      node.className = "timeline-step";
      node.textContent = String(i + 1);
      node.title = `${i + 1}. ${st.text} (${formatRange(st.start_s, st.end_s)})`;
      node.tabIndex = -1;
      if (d > 0) node.style.left = `${(100 * st.start_s) / d}%`;
      else node.hidden = true;
      node.addEventListener("click", () => seek(st.start_s));
      return node;
    }),
  );
  p.stepsList.replaceChildren(
    ...steps.map((st) => {
      const item = document.createElement("li");
      const go = document.createElement("button");
      go.type = "button";
      go.className = "step";
      go.dataset.start = String(st.start_s);
      go.dataset.end = String(st.end_s);
      go.dataset.second = String(st.second);
      const time = document.createElement("span");
      time.className = "step-time";
      time.textContent = formatRange(st.start_s, st.end_s);
      const text = document.createElement("span");
      text.className = "step-text";
      text.textContent = st.text;
      const score = document.createElement("span");
      score.className = "step-score";
      score.textContent = `${Math.round(100 * st.score)}%`;
      score.title = "Confidence: how likely this step is at its second";
      go.append(time, text, score);
      go.addEventListener("click", () => seek(st.start_s));
      item.append(go);
      return item;
    }),
  );
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
    p.stepsStatus.textContent = `${report.steps.length} steps placed ${
      report.ordered ? "in order" : "each where it fits best"
    }. Click one to jump there.`;
    renderSteps();
  } catch (e) {
    if (playing === at) p.stepsStatus.textContent = errorMessage(e);
  } finally {
    p.stepsRun.disabled = false;
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

export function initPlayer(): void {
  p.close.addEventListener("click", closePlayer);
  p.prev.addEventListener("click", () => stepMoment(-1));
  p.next.addEventListener("click", () => stepMoment(1));
  p.open.addEventListener("click", () => void handOver(openVideo, "open it"));
  p.reveal.addEventListener("click", () => void handOver(revealVideo, "show its folder"));
  p.stepsRun.addEventListener("click", () => void placeSteps());
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
