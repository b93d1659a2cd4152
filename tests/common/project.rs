//! Test helper: copies of project files into temporary directories.

use std::path::Path;

/// Copy the directory `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A copy of the project's demo setup (`mapsync.yaml`, `mappings/`,
/// `examples/`) in a temporary directory.
#[allow(dead_code)]
pub fn demo_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("mapsync.yaml", dir.path().join("mapsync.yaml")).unwrap();
    copy_dir(Path::new("mappings"), &dir.path().join("mappings"));
    copy_dir(Path::new("examples"), &dir.path().join("examples"));
    dir
}
