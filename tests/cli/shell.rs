//! `mapsync completions SHELL` for every shell clap_complete knows,
//! `mapsync man`, and `mapsync --version` with the commit.

use clap::ValueEnum;
use clap_complete::Shell;

use super::{mapsync, root};

#[test]
fn completions_generate_for_every_shell() {
    let shells = Shell::value_variants();
    assert!(shells.len() >= 5, "bash, elvish, fish, powershell, zsh");
    for shell in shells {
        let name = shell.to_possible_value().unwrap().get_name().to_string();
        let (code, out, err) = mapsync(root(), &["completions", &name]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out.contains("mapsync"), "{name}: {out}");
        for command in ["init", "explain", "validate", "sync", "completions"] {
            assert!(out.contains(command), "{name} completes `{command}`");
        }
        assert!(
            out.contains("from-csv"),
            "{name} completes the flags of init"
        );
    }
    let (code, _, err) = mapsync(root(), &["completions", "tcsh"]);
    assert_ne!(code, 0);
    assert!(err.contains("possible values"), "{err}");
}

#[test]
fn bash_completion_is_valid_bash() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("mapsync.bash");
    std::fs::write(&script, mapsync(root(), &["completions", "bash"]).1).unwrap();
    match std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
    {
        Ok(status) => assert!(status.success(), "bash -n refuses the script"),
        Err(_) => eprintln!("no bash: syntax check skipped"),
    }
}

#[test]
fn man_page_is_roff_with_every_command() {
    let (code, out, err) = mapsync(root(), &["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(".ie") || out.contains(".TH mapsync"),
        "{}",
        &out[..200.min(out.len())]
    );
    for command in ["init", "explain", "completions", "validate"] {
        assert!(out.contains(command), "the page lists {command}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let (code, _, err) = mapsync(root(), &["man", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for page in [
        "mapsync.1",
        "mapsync-init.1",
        "mapsync-explain.1",
        "mapsync-sync.1",
    ] {
        assert!(dir.join(page).is_file(), "{page} written");
    }
}

#[test]
fn version_shows_the_commit() {
    let (code, out, _) = mapsync(root(), &["--version"]);
    assert_eq!(code, 0);
    let want = format!("mapsync {} (", env!("CARGO_PKG_VERSION"));
    assert!(out.starts_with(&want), "{out}");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match commit {
        // The binary may predate the newest commit (built before it): a
        // commit it shows is a commit of this repository.
        Some(_) => {
            let shown = out.trim().trim_start_matches(&want).trim_end_matches(')');
            let known = std::process::Command::new("git")
                .args(["cat-file", "-e", &format!("{shown}^{{commit}}")])
                .current_dir(root())
                .status()
                .is_ok_and(|s| s.success());
            assert!(known, "{shown} is a commit of the repository");
        }
        None => assert!(out.contains("unknown commit"), "{out}"),
    }
}
