//! Build script of the `mapsync` binary: the commit it was built from, for
//! `mapsync --version` (`MAPSYNC_COMMIT`, e.g. `0.1.0 (1673097)`).
//!
//! Reads `git rev-parse --short HEAD` when the sources are a git checkout
//! and git is installed; otherwise (a source tarball, `cargo install` from
//! a registry, no git) the version shows `unknown commit`. A build never
//! fails for want of git. `MAPSYNC_COMMIT` set in the environment wins
//! (packagers building outside a checkout).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MAPSYNC_COMMIT");
    let commit = std::env::var("MAPSYNC_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown commit".to_string());
    println!("cargo:rustc-env=MAPSYNC_COMMIT={commit}");
}

/// The short commit of HEAD; the files whose change moves HEAD are watched
/// so the next build after a commit or a checkout reruns this script.
fn git_commit() -> Option<String> {
    let git_dir = git(&["rev-parse", "--git-dir"])?;
    let git_dir = Path::new(&git_dir);
    // Only files that exist: a missing one would rerun the script (and
    // rebuild the binary) on every build.
    for watched in ["HEAD", "packed-refs"] {
        let p = git_dir.join(watched);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let p = git_dir.join(head_ref);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    git(&["rev-parse", "--short", "HEAD"])
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
