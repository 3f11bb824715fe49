// The "Duplicates" panel: the videos of the library that share footage (re-encodes, trimmed
// copies, compilations), each shared run with its time ranges on both sides; a range plays
// that video there. All text is set with textContent.
import { duplicates, errorMessage, type DuplicatesReport, type SharedFootage } from "./api";
import { h } from "./dom";
import { formatRange, plural, splitPath } from "./format";
import { openPlayer } from "./player";

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node as T;
}

const d = {
  root: byId<HTMLElement>("duplicates"),
  open: byId<HTMLButtonElement>("duplicates-open"),
  close: byId<HTMLButtonElement>("duplicates-close"),
  spinner: byId<HTMLElement>("duplicates-spinner"),
  status: byId<HTMLElement>("duplicates-status"),
  list: byId<HTMLOListElement>("duplicates-list"),
};

let seq = 0;

export function duplicatesOpen(): boolean {
  return !d.root.hidden;
}

/** A time range of one video, as a button that plays it there. */
function spanButton(span: SharedFootage["a"]): HTMLButtonElement {
  const { name } = splitPath(span.path);
  const b = h("button", "button button-quiet footage-span");
  b.type = "button";
  b.title = `Play ${span.path} from ${formatRange(span.start_s, span.end_s)}`;
  b.append(h("span", "file-name", name), h("span", "moment-time", formatRange(span.start_s, span.end_s)));
  b.addEventListener("click", () =>
    openPlayer(span.video_id, span.path, [{ start_s: span.start_s, end_s: span.end_s, snippet: [] }], 0),
  );
  return b;
}

function render(report: DuplicatesReport): void {
  const made = report.fingerprinted > 0 ? ` (fingerprinted ${plural(report.fingerprinted, "older video")})` : "";
  d.status.textContent =
    report.groups.length === 0
      ? `No shared footage among ${plural(report.videos, "video")}${made}.`
      : `${plural(report.groups.length, "group")} of videos share footage, among ${plural(report.videos, "video")}${made}.`;
  if (report.skipped.length > 0) {
    d.status.textContent += ` Not compared: ${report.skipped.map(([p, why]) => `${splitPath(p).name} (${why})`).join("; ")}.`;
  }
  d.list.replaceChildren(
    ...report.groups.map((g) => {
      const item = h("li", "duplicates-group");
      item.append(h("h3", "duplicates-group-head", `${plural(g.videos.length, "video")} share footage`));
      const runs = h("ul", "duplicates-runs");
      for (const run of g.shared) {
        const row = h("li", "duplicates-run");
        row.append(
          spanButton(run.a),
          h("span", "muted", "="),
          spanButton(run.b),
          h("span", "chip", `${Math.round(run.similarity * 100)} % alike`),
        );
        runs.append(row);
      }
      item.append(runs);
      return item;
    }),
  );
}

/** Shows the panel and compares the library (fingerprinting older videos first). */
export async function openDuplicates(): Promise<void> {
  const mine = ++seq;
  d.root.hidden = false;
  d.spinner.hidden = false;
  d.status.textContent = "Comparing every second of every video…";
  d.list.replaceChildren();
  d.close.focus();
  try {
    const report = await duplicates();
    if (mine === seq && !d.root.hidden) render(report);
  } catch (e) {
    if (mine === seq) d.status.textContent = `Cannot compare the videos: ${errorMessage(e)}`;
  } finally {
    if (mine === seq) d.spinner.hidden = true;
  }
}

export function closeDuplicates(): void {
  seq++;
  d.root.hidden = true;
  d.spinner.hidden = true;
}

export function initDuplicates(): void {
  d.open.addEventListener("click", () => void openDuplicates());
  d.close.addEventListener("click", closeDuplicates);
}
