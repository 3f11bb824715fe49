//! `vclip models versions | use | rollback`: the library's model versions (`models.json`, see
//! `vclip_engine::versions`).

use std::path::PathBuf;
use std::process::ExitCode;

use vclip_engine::versions::{self, VersionEntry};

use super::library::LibraryArgs;
use super::print_json;

/// The library (and device) the version commands work on.
#[derive(Debug, Clone, clap::Args)]
pub struct VersionArgs {
    /// Library folder (default: `$VCLIP_LIBRARY`, else the per-user data folder).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Run the model on the GPU when the library must be re-embedded (a CUDA/Metal build).
    #[arg(long)]
    pub gpu: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl VersionArgs {
    fn lib(&self, model: Option<PathBuf>) -> LibraryArgs {
        LibraryArgs {
            library: self.library.clone(),
            model,
            gpu: self.gpu,
            cpu: false,
            sentence_model: None,
            text_precision: None,
            image_precision: None,
        }
    }
}

/// `YYYY-MM-DD HH:MM UTC` for Unix seconds.
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

fn describe(v: &VersionEntry) -> String {
    let mut parts = Vec::new();
    match &v.parent {
        Some(p) => parts.push(format!("fine-tuned from {p}")),
        None => parts.push("registered".to_owned()),
    }
    parts[0].push_str(&format!(" {}", utc(v.created_unix)));
    if let Some(m) = &v.finetune {
        parts.push(format!(
            "held-out R@1 {:.3} -> {:.3}, median rank {} -> {} ({} captions over {} videos, \
             best epoch {} of {})",
            m.before.r1,
            m.after.r1,
            m.before.median_rank,
            m.after.median_rank,
            m.heldout_queries,
            m.videos,
            m.best_epoch,
            m.epochs
        ));
    }
    if v.random_weights {
        parts.push("random weights".to_owned());
    }
    if !v.dir.join("config.json").is_file() {
        parts.push("its folder holds no model any more".to_owned());
    }
    parts.join("; ")
}

/// `vclip models versions`.
pub fn list(a: &VersionArgs) -> anyhow::Result<ExitCode> {
    let lib = a.lib(None);
    let root = lib.library_dir()?;
    let registry = versions::load(&root)?;
    let in_use = lib.model_source();
    if a.json {
        let rows: Vec<serde_json::Value> = registry
            .versions
            .iter()
            .map(|v| {
                let mut row = serde_json::to_value(v).unwrap_or_default();
                if let Some(o) = row.as_object_mut() {
                    o.insert(
                        "active".into(),
                        (registry.active.as_deref() == Some(v.version.as_str())).into(),
                    );
                    o.insert("present".into(), v.dir.join("config.json").is_file().into());
                }
                row
            })
            .collect();
        let in_use = match &in_use {
            Ok((dir, by)) => serde_json::json!({ "dir": dir, "by": by }),
            Err(e) => serde_json::json!({ "error": format!("{e:#}") }),
        };
        print_json(&serde_json::json!({
            "library": root,
            "active": registry.active,
            "previous": registry.previous,
            "in_use": in_use,
            "versions": rows,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if registry.versions.is_empty() {
        match &in_use {
            Ok((dir, by)) => println!(
                "no model versions recorded in {} yet: it uses {} ({by}). `vclip finetune` and \
                 `vclip models use DIR` record them.",
                root.display(),
                dir.display()
            ),
            Err(e) => println!("no model versions recorded in {}: {e:#}", root.display()),
        }
        return Ok(ExitCode::SUCCESS);
    }
    for v in &registry.versions {
        let active = registry.active.as_deref() == Some(v.version.as_str());
        println!(
            "{} {}{}  {}",
            if active { "*" } else { " " },
            v.version,
            if active { " (active)" } else { "" },
            v.dir.display()
        );
        println!("      {}", describe(v));
    }
    if let Ok((dir, by)) = &in_use {
        if by == "VCLIP_MODEL" || by == "--model" {
            eprintln!(
                "note: {by} wins over the active version here: this shell uses {}",
                dir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `vclip models use VERSION|DIR`.
#[cfg(feature = "media")]
pub fn use_version(a: &VersionArgs, what: &str) -> anyhow::Result<ExitCode> {
    let root = a.lib(None).library_dir()?;
    let registry = versions::load(&root)?;
    let dir = match registry.find(what) {
        Ok(entry) => entry.dir.clone(),
        Err(e) => {
            let dir = PathBuf::from(what);
            if !dir.join("config.json").is_file() {
                return Err(e.into());
            }
            dir
        }
    };
    switch(a, &dir)
}

/// `vclip models rollback`.
#[cfg(feature = "media")]
pub fn rollback(a: &VersionArgs) -> anyhow::Result<ExitCode> {
    let root = a.lib(None).library_dir()?;
    let target = versions::rollback_target(&root)?;
    switch(a, &target.dir)
}

/// Opens the library with the model in `dir`, re-embeds it from the feature cache if that
/// version's windows are missing, then records `dir` as the active version.
#[cfg(feature = "media")]
fn switch(a: &VersionArgs, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    use crate::progress::Bar;

    let engine = a.lib(Some(dir.to_path_buf())).open(true)?;
    let cancel = super::library::ctrl_c_token();
    let versions::VersionSwitch { switched, reindex } =
        engine.switch_to_its_model(&Bar::new(), &cancel)?;
    drop(engine);
    if a.json {
        print_json(&serde_json::json!({
            "version": switched.to.version,
            "dir": switched.to.dir,
            "from": switched.from,
            "reindex": reindex,
        }))?;
    } else {
        println!(
            "the library now uses {} ({}){}",
            switched.to.version,
            switched.to.dir.display(),
            match &switched.from {
                Some(f) if *f != switched.to.version => format!("; was {f}"),
                Some(_) => "; it already did".to_owned(),
                None => String::new(),
            }
        );
        match &reindex {
            None => println!("its windows were already there: nothing re-embedded"),
            Some(r) => {
                println!(
                    "re-embedded {} videos from the feature cache; {} windows indexed",
                    r.reembedded, r.windows
                );
                if r.decoded > 0 {
                    println!(
                        "decoded {} videos that had no features for this model's family",
                        r.decoded
                    );
                }
                for p in &r.need_import {
                    println!("  needs `vclip import` (no cached features for this model): {p}");
                }
                for f in &r.failed {
                    println!("  failed: {}: {}", f.path.display(), f.reason);
                }
            }
        }
    }
    if let Some(m) = vclip_engine::open::Environment::from_process().model {
        eprintln!(
            "note: VCLIP_MODEL={} wins over the active version in this shell",
            m.display()
        );
    }
    Ok(match reindex {
        Some(r) if !r.failed.is_empty() || !r.need_import.is_empty() => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_709_164_800 + 3_660), "2024-02-29 01:01 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}
