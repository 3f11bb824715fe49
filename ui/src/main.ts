// The single screen: the library path, a window-wide drop zone, and what probe found in each
// dropped file. All text is set with textContent: file names are never parsed as HTML.
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { errorMessage, inTauri, libraryInfo, probeFiles, type ProbeResult } from "./api";
import { formatBytes, formatDuration, formatFps, splitPath, subtitleSummary } from "./format";

type Entry = { status: "probing"; path: string } | ProbeResult;

/** Dropped files by path, in the order they were first dropped (a re-drop refreshes in place). */
const entries = new Map<string, Entry>();

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

const ui = {
  libraryPath: byId<HTMLElement>("library-path"),
  clear: byId<HTMLButtonElement>("clear"),
  empty: byId<HTMLElement>("empty"),
  files: byId<HTMLElement>("files"),
  heading: byId<HTMLElement>("files-heading"),
  list: byId<HTMLUListElement>("file-list"),
  overlay: byId<HTMLElement>("overlay"),
  notice: byId<HTMLElement>("notice"),
};

function showNotice(text: string): void {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
}

function chip(text: string, variant?: string): HTMLElement {
  return el("span", variant ? `chip chip-${variant}` : "chip", text);
}

function renderEntry(entry: Entry): HTMLLIElement {
  const { dir, name } = splitPath(entry.path);
  const item = el("li", `file file-${entry.status}`);
  item.title = entry.path;

  const head = el("div", "file-head");
  head.append(el("span", "file-name", name), el("span", "file-dir", dir));
  item.append(head);

  const details = el("div", "file-details");
  if (entry.status === "probing") {
    details.append(el("span", "spinner"), el("span", "muted", "Reading…"));
  } else if (entry.status === "error") {
    details.append(el("span", "error-message", entry.message));
  } else {
    const info = entry.info;
    const v = info.video;
    details.append(chip(formatDuration(info.duration_s), "strong"));
    if (v) {
      const rotated = v.rotation !== 0 ? ` ↻${v.rotation}°` : "";
      details.append(
        chip(`${v.display_width}×${v.display_height}${rotated}`),
        chip(formatFps(v.avg_frame_rate ?? v.real_frame_rate)),
        chip(v.codec),
      );
      if (v.still_image) details.append(chip("still image", "warn"));
    } else {
      details.append(chip("no video", "warn"));
    }
    details.append(
      chip(info.has_audio ? "audio" : "no audio", info.has_audio ? undefined : "dim"),
      chip(subtitleSummary(info), info.streams.some((s) => s.kind === "subtitle") ||
        info.sidecar_subtitles.length > 0 ? undefined : "dim"),
      chip(formatBytes(info.size_bytes), "dim"),
    );
  }
  item.append(details);
  return item;
}

function render(): void {
  const all = [...entries.values()];
  const hasFiles = all.length > 0;
  ui.empty.hidden = hasFiles;
  ui.files.hidden = !hasFiles;
  ui.clear.hidden = !hasFiles;
  const failed = all.filter((e) => e.status === "error").length;
  ui.heading.textContent =
    `${all.length} file${all.length === 1 ? "" : "s"}` +
    (failed > 0 ? ` · ${failed} could not be read` : "");
  ui.list.replaceChildren(...all.map(renderEntry));
}

async function addFiles(paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  for (const path of paths) entries.set(path, { status: "probing", path });
  render();
  try {
    const results = await probeFiles(paths);
    for (const r of results) entries.set(r.path, r);
  } catch (e) {
    const message = errorMessage(e);
    for (const path of paths) entries.set(path, { status: "error", path, message });
  }
  render();
}

function setDragging(on: boolean): void {
  ui.overlay.hidden = !on;
  document.body.classList.toggle("dragging", on);
}

async function start(): Promise<void> {
  ui.clear.addEventListener("click", () => {
    entries.clear();
    render();
  });
  render();

  if (!inTauri()) {
    ui.libraryPath.textContent = "(not running in the VClip window)";
    showNotice("Open this page through the VClip app to read files.");
    return;
  }

  try {
    const info = await libraryInfo();
    ui.libraryPath.textContent = info.path;
    ui.libraryPath.title = info.path;
  } catch (e) {
    ui.libraryPath.textContent = "unavailable";
    showNotice(`Cannot read the library location: ${errorMessage(e)}`);
  }

  await getCurrentWebview().onDragDropEvent((event) => {
    const p = event.payload;
    if (p.type === "enter" || p.type === "over") {
      setDragging(true);
    } else if (p.type === "leave") {
      setDragging(false);
    } else {
      setDragging(false);
      void addFiles(p.paths);
    }
  });
}

void start().catch((e) => showNotice(`The window failed to start: ${errorMessage(e)}`));
