//! Discovering videos in folders a user drops: recursion, extensions, probing unknown files,
//! hidden entries, unreadable paths.
#![cfg(feature = "media")]

use vclip_engine::discover::discover;

/// A 1-second H.264 Matroska video at `path`, whatever its name says.
fn make_video(path: &std::path::Path) {
    let (dir, name) = (path.parent().expect("dir"), path.file_name().expect("name"));
    vclip_testkit::lavfi_args(
        dir,
        name.to_str().expect("utf-8"),
        "testsrc2=size=64x48:rate=10",
        1.0,
        &["-pix_fmt", "yuv420p", "-c:v", "libx264", "-f", "matroska"],
    );
}

#[test]
fn walks_folders_and_keeps_only_videos() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("trip/day 1")).expect("mkdir");
    std::fs::create_dir_all(root.join(".hidden")).expect("mkdir");
    make_video(&root.join("trip/day 1/beach.MKV"));
    make_video(&root.join("trip/no-extension-video"));
    make_video(&root.join(".hidden/secret.mkv"));
    std::fs::write(
        root.join("trip/beach.srt"),
        "1\n00:00:00,000 --> 00:00:01,000\nhi\n",
    )
    .expect("write");
    std::fs::write(root.join("trip/notes.bin"), b"not a video at all").expect("write");
    std::fs::write(root.join("trip/broken.mp4"), b"garbage").expect("write");
    let explicit = root.join("trip/notes.bin");
    let missing = root.join("nope");

    let (found, errors) = discover(&[root.join("trip"), explicit.clone(), missing.clone()]);
    let names: Vec<String> = found
        .iter()
        .map(|p| {
            p.strip_prefix(root)
                .expect("under root")
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "trip/broken.mp4",         // a video extension: the import reports why it fails
            "trip/day 1/beach.MKV",    // extension case does not matter
            "trip/no-extension-video", // probed
            "trip/notes.bin",          // named explicitly
        ]
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, missing);
}
