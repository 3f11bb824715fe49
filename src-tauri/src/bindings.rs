//! The UI's TypeScript types (`ui/src/bindings/`, committed) are generated from the Rust types
//! that cross the IPC boundary, with ts-rs: this crate's (`#[cfg_attr(test, derive(TS))]`) and
//! the engine's and media layer's (their `ts` feature, on only in this crate's test build).
//!
//! `bindings_are_up_to_date` regenerates them into a temporary folder and fails when the
//! committed files differ, so a changed Rust type cannot leave the UI's types behind unnoticed.
//! `VCLIP_UPDATE_BINDINGS=1` (what `scripts/gen-bindings.sh` sets) rewrites them instead.
//!
//! The commands too: `commands.ts` holds one typed function per `#[tauri::command]` of
//! `commands.rs` (its arguments, under the camelCase keys Tauri expects, and its answer), read
//! from the source, so a command whose arguments or answer change cannot leave the UI calling
//! it the old way: the UI calls only these functions, and `tsc` checks every call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, ExportError, TS};
use vclip_engine::chapters::{ChapterFormat, ChapterStep};
use vclip_engine::localize::StepsReport;

use crate::jobs::JobEvent;
use crate::{
    AppStatus, CommandError, ExportedChapters, ImportStarted, ImportSummary, Moment, ProbeResult,
    RemovedVideo, RetryStarted, VideoRow,
};

/// The committed bindings.
fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings")
}

/// Writes the bindings of every type a command returns or takes, or an event carries (and of
/// the types they are made of) into `dir`. Ids and counts are `number`, not `bigint`: serde_json
/// sends them as JSON numbers, and none comes near 2^53.
fn export(dir: &Path) -> Result<(), ExportError> {
    let cfg = Config::new().with_out_dir(dir).with_large_int("number");
    // Answers of commands.
    AppStatus::export_all(&cfg)?;
    ImportStarted::export_all(&cfg)?;
    RetryStarted::export_all(&cfg)?;
    VideoRow::export_all(&cfg)?;
    Moment::export_all(&cfg)?;
    RemovedVideo::export_all(&cfg)?;
    ProbeResult::export_all(&cfg)?;
    StepsReport::export_all(&cfg)?;
    vclip_engine::step_sources::FoundSteps::export_all(&cfg)?;
    crate::settings::SettingsView::export_all(&cfg)?;
    crate::settings::SettingsChange::export_all(&cfg)?;
    crate::settings::Downloaded::export_all(&cfg)?;
    ExportedChapters::export_all(&cfg)?;
    crate::ExportedMoments::export_all(&cfg)?;
    crate::SavedClip::export_all(&cfg)?;
    crate::LinkTarget::export_all(&cfg)?;
    vclip_engine::duplicates::DuplicatesReport::export_all(&cfg)?;
    crate::finetune::FinetuneInfo::export_all(&cfg)?;
    crate::finetune::VersionsView::export_all(&cfg)?;
    crate::family::FamiliesView::export_all(&cfg)?;
    crate::family::FamilyEstimate::export_all(&cfg)?;
    crate::family::SwitchStarted::export_all(&cfg)?;
    // What the UI sends.
    crate::family::FamilyChoice::export_all(&cfg)?;
    crate::finetune::FinetuneSettings::export_all(&cfg)?;
    ChapterStep::export_all(&cfg)?;
    ChapterFormat::export_all(&cfg)?;
    crate::MomentSpan::export_all(&cfg)?;
    crate::TimelineFormat::export_all(&cfg)?;
    // Every command's error, and the one event shape of the background jobs (`import`,
    // `finetune`, `version-switch`, `family-switch`, `model-download`, `family-download`; the
    // results above and `ImportSummary`, `FinetuneResult`, `SwitchSummary`, `Downloaded`).
    // `app-status` carries `AppStatus`.
    CommandError::export_all(&cfg)?;
    JobEvent::<ImportSummary>::export_all(&cfg)?;
    crate::finetune::FinetuneResult::export_all(&cfg)?;
    crate::family::SwitchSummary::export_all(&cfg)?;
    // The commands themselves.
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands.rs");
    let source = std::fs::read_to_string(&source).map_err(ExportError::from)?;
    std::fs::write(dir.join("commands.ts"), commands_ts(&source)).map_err(ExportError::from)?;
    Ok(())
}

/// The TypeScript of a Rust type of a command's argument or answer; named types are recorded
/// in `imports` (each has its generated binding of the same name).
fn ts_type(rust: &str, imports: &mut std::collections::BTreeSet<String>) -> String {
    let t = rust.trim();
    let inner = |prefix: &str| {
        t.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix('>'))
            .map(str::trim)
    };
    if let Some(x) = inner("Option<") {
        return format!("{} | null", ts_type(x, imports));
    }
    if let Some(x) = inner("Vec<") {
        let item = ts_type(x, imports);
        return if item.contains(' ') {
            format!("({item})[]")
        } else {
            format!("{item}[]")
        };
    }
    let name = t.rsplit("::").next().unwrap_or(t);
    match name {
        "()" => "void".into(),
        "String" | "PathBuf" | "str" => "string".into(),
        "bool" => "boolean".into(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" | "f32"
        | "f64" => "number".into(),
        named => {
            imports.insert(named.to_owned());
            named.to_owned()
        }
    }
}

/// `snake_case` -> `camelCase` (Tauri's argument keys, the functions' names).
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits `params` at the commas outside `<>`.
fn split_params(params: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in params.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&params[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&params[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// `commands.ts`: one function per `#[tauri::command]` in `source` (`commands.rs`).
fn commands_ts(source: &str) -> String {
    let mut imports = std::collections::BTreeSet::new();
    let mut functions = String::new();
    for (at, _) in source.match_indices("#[tauri::command]") {
        let rest = &source[at..];
        let fn_at = rest.find("fn ").expect("a command is a function");
        let rest = &rest[fn_at + 3..];
        let open = rest.find('(').expect("its arguments");
        let name = rest[..open].trim();
        let close = rest.find(')').expect("the end of its arguments");
        let params = &rest[open + 1..close];
        let body = rest.find('{').expect("its body");
        let answer = rest[close + 1..body]
            .trim()
            .strip_prefix("->")
            .map(str::trim)
            .and_then(|r| r.strip_prefix("Result<"))
            .and_then(|r| r.strip_suffix(", CommandError>"))
            .unwrap_or_else(|| panic!("command {name} must answer Result<_, CommandError>"));
        let mut args = Vec::new();
        for p in split_params(params) {
            let (arg, ty) = p.split_once(':').expect("an argument has a type");
            let ty = ty.trim();
            // What Tauri injects, not what the UI sends.
            if ["AppHandle", "State<", "Window", "WebviewWindow"]
                .iter()
                .any(|t| ty.starts_with(t))
            {
                continue;
            }
            args.push((camel(arg.trim()), ts_type(ty, &mut imports)));
        }
        let signature: Vec<String> = args.iter().map(|(a, t)| format!("{a}: {t}")).collect();
        let keys: Vec<&str> = args.iter().map(|(a, _)| a.as_str()).collect();
        let answer = ts_type(answer, &mut imports);
        let payload = if keys.is_empty() {
            String::new()
        } else {
            format!(", {{ {} }}", keys.join(", "))
        };
        functions.push_str(&format!(
            "\nexport function {}({}): Promise<{answer}> {{\n  return invoke<{answer}>(\"{name}\"{payload});\n}}\n",
            camel(name),
            signature.join(", "),
        ));
    }
    let mut out = String::from(
        "// Generated from src-tauri/src/commands.rs by src-tauri/src/bindings.rs \
         (scripts/gen-bindings.sh). Do not edit this file manually.\n\
         import { invoke } from \"@tauri-apps/api/core\";\n",
    );
    for name in &imports {
        out.push_str(&format!("import type {{ {name} }} from \"./{name}\";\n"));
    }
    out.push_str(&functions);
    out
}

/// The files of `dir` (no subfolders are written) by name.
fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.expect("read a bindings folder entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&p).expect("read a binding");
            (name, bytes)
        })
        .collect()
}

#[test]
fn bindings_are_up_to_date() {
    let fresh_dir = tempfile::tempdir().expect("temporary folder");
    export(fresh_dir.path()).expect("export the TypeScript bindings");
    let fresh = read_dir(fresh_dir.path());
    assert!(fresh.contains_key("CommandError.ts"), "{:?}", fresh.keys());
    // Every type a command takes or answers has its binding.
    let commands = String::from_utf8_lossy(&fresh["commands.ts"]).into_owned();
    for line in commands.lines().filter(|l| l.starts_with("import type")) {
        let file = line
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix("\";"))
            .map(|f| format!("{f}.ts"));
        assert!(
            file.as_ref().is_some_and(|f| fresh.contains_key(f)),
            "{line}: no binding is generated for it (export it in bindings.rs)"
        );
    }

    let committed_dir = committed_dir();
    if std::env::var_os("VCLIP_UPDATE_BINDINGS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(&committed_dir).expect("create ui/src/bindings");
        for name in read_dir(&committed_dir).keys() {
            if !fresh.contains_key(name) {
                std::fs::remove_file(committed_dir.join(name)).expect("remove a stale binding");
            }
        }
        for (name, bytes) in &fresh {
            std::fs::write(committed_dir.join(name), bytes).expect("write a binding");
        }
        return;
    }

    let committed = read_dir(&committed_dir);
    let mut problems = Vec::new();
    for (name, bytes) in &fresh {
        match committed.get(name) {
            None => problems.push(format!("{name}: missing")),
            Some(old) if old != bytes => problems.push(format!("{name}: differs")),
            Some(_) => {}
        }
    }
    for name in committed.keys().filter(|n| !fresh.contains_key(*n)) {
        problems.push(format!("{name}: no longer generated"));
    }
    assert!(
        problems.is_empty(),
        "ui/src/bindings/ is out of date with the Rust types ({}); regenerate it with \
         scripts/gen-bindings.sh (VCLIP_UPDATE_BINDINGS=1 cargo test -p vclip-app --lib \
         bindings_are_up_to_date) and commit the result",
        problems.join(", ")
    );
}
