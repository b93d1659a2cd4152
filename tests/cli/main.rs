//! First contact, one test binary: `mapsync init` (with and without
//! `--from-csv`), `mapsync explain` and the explanations in
//! docs/diagnostics.md, `completions` / `man` / `--version`, and the CI
//! outputs of `validate` (`--format sarif` and `github`), all through the
//! built binary.

mod explain;
mod init;
mod init_props;
mod recipes;
mod sarif;
mod shell;

use std::path::Path;
use std::process::Command;

/// Run the built binary in `dir`: (exit code, stdout, stderr). No colour.
pub fn mapsync(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run mapsync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The repository root (where the tests run).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
