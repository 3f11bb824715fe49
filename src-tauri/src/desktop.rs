//! Handing a file to the desktop: its default application, or its folder in the file manager.
//!
//! The platform's own opener runs as a child process with the path as one argument (never
//! through a shell). It is reaped on a background thread, so no zombie is left behind.

use std::io;
use std::path::Path;
use std::process::Command;

/// What to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// The file in its default application (the system video player).
    Player,
    /// The folder holding the file, with the file selected where the platform can.
    Folder,
}

/// The command that opens `path` as `how` asks, on this platform.
pub fn command(path: &Path, how: Open) -> Command {
    #[cfg(target_os = "macos")]
    {
        let mut c = Command::new("open");
        if how == Open::Folder {
            c.arg("-R");
        }
        c.arg(path);
        c
    }
    #[cfg(target_os = "windows")]
    {
        let mut c = Command::new("explorer");
        match how {
            Open::Player => c.arg(path),
            Open::Folder => c.arg(format!("/select,{}", path.display())),
        };
        c
    }
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    {
        // freedesktop: `xdg-open` on the file, or on its folder (selecting a file needs a
        // file-manager-specific D-Bus call that not every desktop answers).
        let mut c = Command::new("xdg-open");
        match how {
            Open::Player => c.arg(path),
            Open::Folder => c.arg(path.parent().unwrap_or(path)),
        };
        c
    }
}

/// Opens `path`; an error when the opener cannot be started.
pub fn open(path: &Path, how: Open) -> io::Result<()> {
    let mut child = command(path, how).spawn()?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

#[cfg(all(test, not(any(target_os = "macos", target_os = "windows"))))]
mod tests {
    use super::*;

    #[test]
    fn the_file_or_its_folder_is_one_argument_of_the_opener() {
        let p = Path::new("/videos/a b; rm -rf ~/clip.mp4");
        let player = command(p, Open::Player);
        assert_eq!(player.get_program(), "xdg-open");
        assert_eq!(player.get_args().collect::<Vec<_>>(), [p.as_os_str()]);
        let folder = command(p, Open::Folder);
        assert_eq!(
            folder.get_args().collect::<Vec<_>>(),
            [Path::new("/videos/a b; rm -rf ~").as_os_str()]
        );
    }
}
