//! Files the tests read but the repository does not hold: the assets
//! `scripts/fetch-test-assets.sh` fetches into `.cache/` at the workspace root, and the model
//! crate's fixtures.
//!
//! A missing asset skips the test that needs it (the finder says so on stderr and returns
//! `None`), unless `VCLIP_REQUIRE_TEST_ASSETS` is set: then it panics, so that CI cannot pass by
//! skipping.

use std::path::{Path, PathBuf};

/// The workspace root (where `Cargo.lock` and `.cache/` are), as this crate was built.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The model crate's test fixtures (`crates/model/tests/fixtures`).
pub fn model_fixtures() -> PathBuf {
    workspace_root().join("crates/model/tests/fixtures")
}

/// A fetched asset: `$var` when set, else `.cache/<default>` at the workspace root; `Some` when
/// `found` says it is there. Otherwise `None` (skip, said on stderr), or a panic when
/// `VCLIP_REQUIRE_TEST_ASSETS` is set. `what` names the asset in both messages.
pub fn fetched(
    var: &str,
    default: &str,
    found: impl Fn(&Path) -> bool,
    what: &str,
) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache").join(default));
    if found(&path) {
        Some(path)
    } else if std::env::var_os("VCLIP_REQUIRE_TEST_ASSETS").is_some() {
        panic!(
            "{what} not found at {} (scripts/fetch-test-assets.sh)",
            path.display()
        );
    } else {
        eprintln!(
            "skipping: {what} not found at {} (set {var})",
            path.display()
        );
        None
    }
}

/// The real all-MiniLM-L6-v2 folder (`$VCLIP_TEST_MINILM`, else `.cache/all-minilm-l6-v2`,
/// with its `model.safetensors`), or `None` to skip (see the [module](self) for
/// `VCLIP_REQUIRE_TEST_ASSETS`).
pub fn minilm() -> Option<PathBuf> {
    fetched(
        "VCLIP_TEST_MINILM",
        "all-minilm-l6-v2",
        |dir| dir.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2",
    )
}

/// bert-base-uncased's `vocab.txt` (`$VCLIP_TEST_VOCAB`, else
/// `.cache/bert-base-uncased/vocab.txt`), or `None` to skip (see the [module](self)).
pub fn bert_vocab() -> Option<PathBuf> {
    fetched(
        "VCLIP_TEST_VOCAB",
        "bert-base-uncased/vocab.txt",
        Path::is_file,
        "bert-base-uncased vocab.txt",
    )
}
