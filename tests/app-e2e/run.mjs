// End-to-end test of the real VClip window, driven over WebDriver (tauri-driver in front of
// WebKitWebDriver), with a minimal W3C WebDriver client on Node's fetch. Run by
// scripts/app-e2e.sh, which builds the app, makes the videos and the tiny random model, and
// starts Xvfb and tauri-driver. Environment:
//   VCLIP_E2E_DRIVER   WebDriver URL (http://127.0.0.1:4444)
//   VCLIP_E2E_APP      the app binary;  VCLIP_E2E_LIBRARY  an empty library folder
//   VCLIP_E2E_VIDEOS   the two videos, separated by ":" (the first one's subtitles say
//                      "whisk the eggs" from 12 s to 14 s)
//   VCLIP_E2E_SHOTS    where the screenshots go (docs/screenshots)
//   VCLIP_E2E_MODEL    the model folder the app was given in VCLIP_MODEL
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run scripts/app-e2e.sh)`);
  return v;
};
const DRIVER = env("VCLIP_E2E_DRIVER");
const APP = env("VCLIP_E2E_APP");
const LIBRARY = env("VCLIP_E2E_LIBRARY");
const VIDEOS = env("VCLIP_E2E_VIDEOS").split(":");
const SHOTS = env("VCLIP_E2E_SHOTS");
const MODEL = env("VCLIP_E2E_MODEL");
// Words of the 12–14 s cue only: the random model's visual ranking (noise) must not decide the
// first moment through a partial match in another cue ("eggs" is in the 3–5 s one too).
const PHRASE = "whisk until fluffy";
const CUE_START = 12.0;
const CUE_END = 14.0;
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

async function wd(method, path, body) {
  let res;
  try {
    res = await fetch(`${DRIVER}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    // Node says only "fetch failed"; the cause (ECONNREFUSED, "other side closed", ...) is what
    // tells a driver that is not up from one that dropped the request.
    const cause = e.cause ? ` (${e.cause.code ?? ""} ${e.cause.message ?? e.cause})` : "";
    const err = new Error(`${method} ${path}: ${e.message}${cause}`);
    err.network = true;
    throw err;
  }
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const v = json.value ?? {};
    throw new Error(`${method} ${path}: ${res.status} ${v.error ?? ""} ${v.message ?? ""}`);
  }
  return json.value;
}

let session = null;
const s = (path) => `/session/${session}${path}`;
const exec = (script, args = []) => wd("POST", s("/execute/sync"), { script, args });
const find = async (css) => (await wd("POST", s("/element"), { using: "css selector", value: css }))[ELEMENT];

async function until(what, check, timeoutMs = 90_000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

async function shot(name) {
  mkdirSync(SHOTS, { recursive: true });
  const png = await wd("GET", s("/screenshot"));
  writeFileSync(join(SHOTS, `${name}.png`), Buffer.from(png, "base64"));
  console.log(`screenshot ${name}.png`);
}

function ok(cond, message) {
  if (!cond) throw new Error(`FAILED: ${message}`);
  console.log(`ok - ${message}`);
}

/** The session, retried when the request itself fails on the network (a driver that is still
 *  starting, on a loaded machine); a WebDriver error answer is not retried. */
async function newSession(extra = []) {
  const body = {
    capabilities: {
      alwaysMatch: {
        browserName: "wry",
        "tauri:options": { application: APP, args: ["--library", LIBRARY, ...extra] },
      },
    },
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await wd("POST", "/session", body);
    } catch (e) {
      if (!e.network || attempt === 5) throw e;
      console.log(`new session, attempt ${attempt}: ${e.message}; trying again`);
      await new Promise((r) => setTimeout(r, 2000 * attempt));
    }
  }
}

async function main() {
  const created = await newSession();
  session = created.sessionId;
  // The player's moment link (Copy link), opened by a second start of the app at the end.
  let link = null;
  let linkedTitle = null;
  try {
    // The library and the tiny random model are loaded: the window says the model is random.
    await until("the library and the model to be loaded", () =>
      exec("return document.querySelector('#banner-text').textContent.includes('random weights')"),
    );
    await shot("empty");
    ok(
      await exec(`return ['#empty-add-videos', '#empty-add-folder'].every((id) => {
                    const b = document.querySelector(id);
                    return b && b.offsetParent !== null;
                  });`),
      "the empty library offers Add videos… and Add folder…",
    );

    // Drop the two videos (the drop handler's own path; see ui/src/main.ts).
    await exec(
      "document.dispatchEvent(new CustomEvent('vclip:import-paths', { detail: arguments[0] }));",
      [VIDEOS],
    );
    const ready = await until("both videos to be ready", async () => {
      const n = await exec("return document.querySelectorAll('#video-grid .video-ready').length");
      return n === VIDEOS.length ? n : null;
    });
    ok(ready === 2, "two dropped videos are imported and listed as ready");
    await shot("library");

    // Duplicates: the panel compares the library's pictures (the two videos share nothing)
    // and Esc closes it.
    await wd("POST", s(`/element/${await find("#duplicates-open")}/click`), {});
    const compared = await until("the shared-footage report", () =>
      exec(`const t = document.querySelector('#duplicates-status').textContent;
            return document.querySelector('#duplicates-spinner').hidden && t ? t : null;`),
    );
    ok(/^No shared footage among 2 videos/.test(compared), `Duplicates compares the library (${compared})`);
    await wd("POST", s("/actions"), {
      actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "\uE00C" }, { type: "keyUp", value: "\uE00C" }] }],
    });
    await until("the Duplicates panel to close", () => exec("return document.querySelector('#duplicates').hidden"));
    ok(true, "Esc closes the Duplicates panel");

    // The library toolbar: the name filter narrows the grid (with a count), the sort orders it,
    // Esc in the filter shows everything again.
    const names = () =>
      exec("return [...document.querySelectorAll('#video-grid .video .file-name')].map((n) => n.textContent)");
    const filter = await find("#library-filter");
    await wd("POST", s(`/element/${filter}/value`), { text: "FORE" });
    const narrowed = await until("the filter to narrow the grid", async () => {
      const shown = await names();
      return shown.length === 1 ? shown : null;
    });
    ok(narrowed[0] === "forest.webm", `the name filter keeps forest.webm only (${narrowed})`);
    ok(
      (await exec("return document.querySelector('#library-count').textContent")) === "1 of 2",
      "the toolbar says 1 of 2",
    );
    await wd("POST", s(`/element/${filter}/value`), { text: "\uE00C" }); // Escape
    await until("Esc to clear the filter", async () => (await names()).length === 2);
    ok(
      (await exec("return document.querySelector('#library-filter').value")) === "",
      "Esc clears the filter and the grid shows both videos",
    );
    await exec(`const sort = document.querySelector('#library-sort');
                sort.value = 'name';
                sort.dispatchEvent(new Event('change'));`);
    const sorted = await names();
    ok(
      sorted.join(",") === "forest.webm,kitchen.webm",
      `sorting by name puts forest before kitchen (${sorted})`,
    );
    ok(
      JSON.parse(await exec("return localStorage.getItem('vclip.library-view')")).sort === "name",
      "the chosen sort is kept in localStorage",
    );
    ok(
      await exec("return document.querySelector('#retry-all-failed').hidden"),
      "no failed video: no Retry all failed",
    );

    // Type a subtitle phrase: the right moment comes first.
    const box = await find("#search");
    await wd("POST", s(`/element/${box}/value`), { text: PHRASE });
    // Typing searches at each pause: wait for the results of the whole phrase.
    const first = await until("search results", () =>
      exec(`const m = document.querySelector('#result-list .moment');
            const q = document.querySelector('#result-list').dataset.query;
            return m && q === ${JSON.stringify(PHRASE.trim())} &&
                   { name: m.querySelector('.file-name').textContent,
                          start: Number(m.dataset.start), end: Number(m.dataset.end) };`),
    );
    ok(first.name === "kitchen.webm", `the first moment is in kitchen.webm (got ${first.name})`);
    ok(
      first.start < CUE_END && first.end > CUE_START,
      `the moment ${first.start}–${first.end} s is at the cue ${CUE_START}–${CUE_END} s`,
    );
    await shot("search");

    // Enter plays it: the player opens at the moment's start.
    await wd("POST", s(`/element/${box}/value`), { text: "\uE007" });
    const t = await until("the player to seek to the moment", () =>
      exec(`const v = document.querySelector('#player-video');
            const open = !document.querySelector('#player').hidden;
            return open && v.readyState >= 1 && !v.seeking && v.currentTime > 0 ? v.currentTime : null;`),
    ).catch(async (e) => {
      const state = await exec(`const v = document.querySelector('#player-video');
        return { open: !document.querySelector('#player').hidden, src: v.currentSrc,
                 readyState: v.readyState, networkState: v.networkState, error: v.error && v.error.code,
                 message: v.error && v.error.message, time: v.currentTime,
                 shown: document.querySelector('#player-error').textContent };`);
      await shot("player-failed");
      throw new Error(`${e.message}; player: ${JSON.stringify(state)}`);
    });
    ok(
      t >= first.start - 0.05 && t < first.start + 1.5,
      `the player is at ${t.toFixed(2)} s, the moment starts at ${first.start} s`,
    );
    ok(first.start > 0, `the moment does not start at the beginning (${first.start} s): the player seeked`);
    const mark = await until("the moment's mark on the timeline", () =>
      exec(`const m = document.querySelector('#player-marks .timeline-mark.current');
            const bar = document.querySelector('#player-timeline').getBoundingClientRect();
            if (!m || m.hidden) return null;
            const r = m.getBoundingClientRect();
            return r.width > 0 ? { left: (r.left - bar.left) / bar.width, width: r.width / bar.width } : null;`),
    );
    const duration = await exec("return document.querySelector('#player-video').duration");
    ok(
      Math.abs(mark.left - first.start / duration) < 0.02,
      `the moment is marked on the timeline at ${(100 * mark.left).toFixed(1)}% (${first.start} s of ${duration} s)`,
    );
    await exec("document.querySelector('#player-video').pause()");
    await shot("player");

    // Steps: paste three, three markers appear in order, clicking the second jumps inside it.
    await (async () => {
      await wd("POST", s(`/element/${await find("#steps summary")}/click`), {});
      // A paste (WebKitWebDriver's typing drops line breaks in a textarea).
      await exec(
        `const t = document.querySelector('#steps-input');
         t.focus();
         t.value = arguments[0];
         t.dispatchEvent(new Event('input', { bubbles: true }));`,
        ["1. Crack two eggs into a bowl\n2) whisk the eggs\n- pour them into the hot pan"],
      );
      await wd("POST", s(`/element/${await find("#steps-run")}/click`), {});
      const placed = await until("three steps on the timeline", () =>
        exec(`const ticks = document.querySelectorAll('#player-steps .timeline-step');
              const rows = [...document.querySelectorAll('#steps-list .step')].map((b) => ({
                second: Number(b.dataset.second), start: Number(b.dataset.start),
                end: Number(b.dataset.end), text: b.querySelector('.step-text').textContent }));
              return ticks.length === 3 && rows.length === 3 ? rows : null;`),
      ).catch(async (e) => {
        const said = await exec("return document.querySelector('#steps-status').textContent");
        throw new Error(`${e.message}; the panel says: ${said}`);
      });
      ok(
        placed.map((r) => r.text).join("|") ===
          "Crack two eggs into a bowl|whisk the eggs|pour them into the hot pan",
        "the pasted steps are listed without their numbering and bullets",
      );
      ok(
        placed[0].second < placed[1].second && placed[1].second < placed[2].second,
        `the steps are placed in order (seconds ${placed.map((r) => r.second).join(", ")})`,
      );
      const second = (await wd("POST", s("/elements"), { using: "css selector", value: "#steps-list .step" }))[1][ELEMENT];
      await wd("POST", s(`/element/${second}/click`), {});
      const at = await until("the player to jump to the second step", () =>
        exec(`const v = document.querySelector('#player-video');
              return !v.seeking && Math.abs(v.currentTime - arguments[0]) < 1.5 ? v.currentTime : null;`, [placed[1].start]),
      );
      await exec("document.querySelector('#player-video').pause()");
      ok(
        at >= placed[1].start - 0.05 && at <= placed[1].end + 0.5,
        `clicking the second step puts the player at ${at.toFixed(2)} s, inside ${placed[1].start}–${placed[1].end} s`,
      );

      // A step's start is corrected by keyboard (focused marker, → moves it 1 s)…
      const rowStart = (i) =>
        exec("return Number(document.querySelectorAll('#steps-list .step')[arguments[0]].dataset.start)", [i]);
      await exec("document.querySelectorAll('#player-steps .timeline-step')[0].focus()");
      await wd("POST", s("/actions"), {
        actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "\uE014" }, { type: "keyUp", value: "\uE014" }] }],
      });
      const moved = await rowStart(0);
      ok(
        Math.abs(moved - (placed[0].start + 1)) < 0.01,
        `→ on the first step's marker moves its start from ${placed[0].start} s to ${moved} s`,
      );
      ok(
        await exec("return document.activeElement === document.querySelectorAll('#player-steps .timeline-step')[0]"),
        "the marker keeps the focus",
      );
      // …and by dragging its marker with the pointer.
      const drag = await exec(`const m = document.querySelectorAll('#player-steps .timeline-step')[2].getBoundingClientRect();
        const bar = document.querySelector('#player-timeline').getBoundingClientRect();
        return { x: Math.round(m.left + m.width / 2), y: Math.round(m.top + m.height / 2),
                 to: Math.round(bar.left + 0.25 * bar.width), left: bar.left, width: bar.width };`);
      await wd("POST", s("/actions"), {
        actions: [{ type: "pointer", id: "mouse", parameters: { pointerType: "mouse" }, actions: [
          { type: "pointerMove", origin: "viewport", x: drag.x, y: drag.y },
          { type: "pointerDown", button: 0 },
          { type: "pointerMove", origin: "viewport", x: Math.round((drag.x + drag.to) / 2), y: drag.y, duration: 100 },
          { type: "pointerMove", origin: "viewport", x: drag.to, y: drag.y, duration: 100 },
          { type: "pointerUp", button: 0 },
        ] }],
      });
      await wd("DELETE", s("/actions")).catch(() => undefined);
      const dragged = await rowStart(2);
      const want = (duration * (drag.to - drag.left)) / drag.width;
      ok(
        Math.abs(dragged - want) < 0.6,
        `dragging the third marker to a quarter of the timeline moves its start to ${dragged} s (≈ ${want.toFixed(1)} s)`,
      );
      ok(
        await exec("return !document.querySelector('#steps-export-vtt').disabled && !document.querySelector('#steps-export-ffmetadata').disabled"),
        "the Export chapters buttons are enabled (their save dialog is native: not driven here)",
      );
      await exec("document.querySelector('#player-video').pause()");
      await shot("steps");
    })();

    // The file server answers only library video ids: a path is refused, in the real window.
    const refused = await wd("POST", s("/execute/async"), {
      script: `const done = arguments[arguments.length - 1];
               const v = document.createElement('video');
               v.onerror = () => done(v.error ? v.error.code : -1);
               v.onloadedmetadata = () => done('played');
               setTimeout(() => done('no answer'), 10000);
               v.src = arguments[0];`,
      args: [await exec("return document.querySelector('#player-video').currentSrc.replace(/[^/]*$/, '')")
               .then((base) => `${base}..${LIBRARY}/catalogue.sqlite`)],
    });
    ok(typeof refused === "number", `a path outside the library is refused by the media server (error ${refused})`);

    // Copy link: a vclip:// link to the second on screen (shown in the player's status line
    // whatever the clipboard does).
    await exec("const v = document.querySelector('#player-video'); v.pause(); v.currentTime = 12;");
    await until("the player to be at 12 s", () =>
      exec("return Math.abs(document.querySelector('#player-video').currentTime - 12) < 0.05"),
    );
    await wd("POST", s(`/element/${await find("#player-copy-link")}/click`), {});
    link = await until("the moment link", () =>
      exec(`const m = document.querySelector('#player-status').textContent.match(/vclip:\\/\\/\\S+/);
            const err = document.querySelector('#player-error');
            return m ? m[0] : !err.hidden && err.textContent ? 'error: ' + err.textContent : null;`),
    );
    linkedTitle = await exec("return document.querySelector('#player-title').textContent");
    ok(/^vclip:\/\/open\?v=[0-9a-f]{64}&t=12$/.test(link), `Copy link gives ${link}`);

    // Esc closes the player and gives the focus back to the search box.
    await wd("POST", s("/actions"), {
      actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "\uE00C" }, { type: "keyUp", value: "\uE00C" }] }],
    });
    await until("the player to close", () => exec("return document.querySelector('#player').hidden"));
    ok(true, "Esc closes the player");

    // More like this, on the first moment card: the search is by that moment now (a chip in
    // the search box says so) and the moment itself comes first.
    const card = await exec(`const c = document.querySelector('#result-list .moment');
                             return [c.dataset.videoId, c.dataset.start];`);
    await wd("POST", s(`/element/${await find("#result-list .moment .more-like")}/click`), {});
    const like = await until("the moments like the first one", () =>
      exec(`const h = document.querySelector('#results-heading').textContent;
            const first = document.querySelector('#result-list .moment');
            const chip = document.querySelector('#search-example');
            return h.includes(' like ') && first && !chip.hidden
              ? [h, first.dataset.videoId, first.dataset.start, first.textContent] : null;`),
    );
    ok(
      like[1] === card[0] && Number(like[2]) === Math.floor(Number(card[1])) && like[3].includes("example"),
      `More like this puts the moment first (${like[0]}; ${like[1]}@${like[2]} for ${card[0]}@${card[1]})`,
    );
    await shot("more-like-this");
    await exec(`const box = document.querySelector('#search');
                box.value = '';
                box.dispatchEvent(new Event('input', { bubbles: true }));`);
    await until("the library header's Add videos… and Add folder…", () =>
      exec(`return ['#add-videos', '#add-folder'].every((id) => {
              const b = document.querySelector(id);
              return b && b.offsetParent !== null && !b.disabled;
            });`),
    );
    ok(true, "the library header offers Add videos… and Add folder… (their pickers are native: not driven here)");

    // Models and settings: the gear opens the screen, which names the model's folder (set by
    // VCLIP_MODEL here, and said so) and the library; Esc closes it.
    await wd("POST", s(`/element/${await find("#settings-open")}/click`), {});
    const shown = await until("the settings screen with the model's folder", () =>
      exec(`const d = document.querySelector('#settings');
            const m = document.querySelector('#settings-model-dir');
            return d && !d.hidden && m ? [m.textContent, document.querySelector('#settings-library').textContent, d.textContent] : null;`),
    );
    ok(shown[0] === MODEL, `the settings screen shows the model's folder (${shown[0]})`);
    ok(shown[1].endsWith("/library"), `and the library folder (${shown[1]})`);
    ok(shown[2].includes("Set by VCLIP_MODEL") && shown[2].includes("random weights"),
       "it says VCLIP_MODEL sets the model and warns that its weights are random");
    const family = await until("the settings screen's model family line", () =>
      exec(`const f = document.querySelector('#settings-family-active');
            return f && f.textContent.includes('(GPU)') ? [f.textContent, document.querySelector('#settings-family').textContent] : null;`),
    );
    ok(family[0].startsWith("VideoCLIP (GPU)") && family[0].includes(MODEL),
       `the active family is named with the model's folder (${family[0]})`);
    ok(family[1].includes("Fast (CLIP)"), "and Fast (CLIP) is offered");
    await shot("settings");
    await wd("POST", s("/actions"), {
      actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "\uE00C" }, { type: "keyUp", value: "\uE00C" }] }],
    });
    await until("the settings screen to close", () => exec("return document.querySelector('#settings').hidden"));
    ok(true, "Esc closes the settings screen");

    // Fine-tune…: the dialog says what there is to train on (both videos have subtitles; the
    // kitchen's three lines give one held-out query), the device and a measured estimate; a
    // short run on the tiny model draws the loss curve and the recall table; Esc closes it.
    await wd("POST", s(`/element/${await find("#finetune-open")}/click`), {});
    const plan = await until("the fine-tune dialog with its data summary", () =>
      exec(`const d = document.querySelector('#finetune');
            const sum = document.querySelector('#finetune-summary');
            const est = document.querySelector('#finetune-estimate');
            return d && !d.hidden && sum && est && est.textContent ? [sum.textContent, document.querySelector('#finetune-device').textContent, est.textContent] : null;`),
    );
    ok(plan[0].startsWith("2 videos with subtitles"), `the dialog says how much data there is (${plan[0]})`);
    ok(plan[0].includes("1 held-out query"), "and how many held-out queries");
    ok(plan[1].includes("CPU") && plan[1].includes("where the model runs"),
       `it names the device (${plan[1]})`);
    ok(/Estimated time: about/.test(plan[2]), `it gives a time estimate (${plan[2]})`);
    await shot("finetune");
    const t0 = Date.now();
    await exec("document.querySelector('#finetune-epochs-input').value = '3'; document.querySelector('#finetune-epochs-input').dispatchEvent(new Event('change'));");
    await wd("POST", s(`/element/${await find("#finetune-start")}/click`), {});
    const done = await until("the fine-tune to finish", () =>
      exec(`const st = document.querySelector('#finetune-status');
            return st && st.textContent.startsWith('Done:') ? [st.textContent,
              document.querySelectorAll('#finetune-epochs tbody tr').length,
              (document.querySelector('#finetune-loss polyline')?.getAttribute('points') ?? '').split(' ').length] : null;`),
      60_000,
    );
    ok(done[1] === 4, `held-out recall before training and after each of 3 epochs (${done[1]} rows)`);
    ok(done[2] >= 1, `the loss curve has points (${done[2]})`);
    ok(done[0].includes("held-out R@1"), `it ends with the held-out recall before and after (${done[0]}, ${Date.now() - t0} ms)`);
    await shot("finetune-done");
    await wd("POST", s("/actions"), {
      actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "\uE00C" }, { type: "keyUp", value: "\uE00C" }] }],
    });
    await until("the fine-tune dialog to close", () => exec("return document.querySelector('#finetune').hidden"));
    ok(true, "Esc closes the fine-tune dialog");
  } finally {
    await wd("DELETE", s("")).catch(() => undefined);
  }

  // The link opens the window at its moment: the app started with it (what `vclip open LINK`
  // and the desktop's vclip:// handler do).
  const again = await newSession([link]);
  session = again.sessionId;
  try {
    const at = await until("the player to open at the link's moment", () =>
      exec(`const p = document.querySelector('#player');
            const v = document.querySelector('#player-video');
            return p && !p.hidden && v.readyState >= 1 && v.currentTime > 0
              ? [document.querySelector('#player-title').textContent, v.currentTime] : null;`),
    );
    ok(at[0] === linkedTitle && Math.abs(at[1] - 12) < 0.5,
       `the link opens ${at[0]} at ${at[1].toFixed(2)} s (${linkedTitle} at 12 s)`);
    await shot("link");
  } finally {
    await wd("DELETE", s("")).catch(() => undefined);
  }
}

main().then(
  () => console.log("app e2e: all checks passed"),
  (e) => {
    console.error(`app e2e: ${e.message}`);
    process.exit(1);
  },
);
