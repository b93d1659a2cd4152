//! Loading of project files (`mapsync.yaml`) and mapping sets (a file, or
//! a directory of YAML files merged in name order), keeping source spans.
//! This module reads files and builds node trees; it does not decide
//! validity beyond YAML syntax (that is `check`'s work). `${ENV}`
//! references are resolved only by [`env::interpolate`], when a profile is
//! used, never while loading or validating.

pub mod check;
pub mod connector;
pub mod env;
pub mod metafield;
pub mod profile;
pub mod schedule;
pub mod schema;
pub mod template;
pub mod yaml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mapsync_core::diag::{codes, Diagnostic, Diagnostics, SourceFile};
use yaml::{Kind, Node};

/// The project file's conventional name.
pub const PROJECT_FILE: &str = "mapsync.yaml";

/// Errors of this module (file system access).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No project file in the directory or its parents.
    #[error("no {PROJECT_FILE} found in {0} or any parent directory; pass --project DIR or run `mapsync validate PATH`")]
    NoProject(PathBuf),
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// What was read.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A mapping directory without YAML files.
    #[error("mapping directory {0} holds no .yaml or .yml file")]
    EmptyDir(PathBuf),
}

/// One parsed YAML file.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The file as read.
    pub file: Arc<SourceFile>,
    /// Its root node (`None` when the YAML did not parse).
    pub root: Option<Node>,
}

/// A loaded mapping set: its files and the merged tree.
#[derive(Debug, Clone)]
pub struct MappingFiles {
    /// The path given (file or directory).
    pub path: PathBuf,
    /// The files in merge order.
    pub parts: Vec<Parsed>,
    /// All parts merged (maps merged key by key, lists concatenated,
    /// repeated scalar keys kept twice so the checker can report them).
    pub merged: Node,
}

/// A loaded project file.
#[derive(Debug, Clone)]
pub struct ProjectFile {
    /// Path of `mapsync.yaml`.
    pub path: PathBuf,
    /// The directory holding it; relative paths in it start here.
    pub dir: PathBuf,
    /// The parsed file.
    pub parsed: Parsed,
}

/// Find the project file: `dir/mapsync.yaml`, else in the parents of `dir`.
pub fn find_project(dir: &Path) -> Result<PathBuf, ConfigError> {
    let start = dir.to_path_buf();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        let candidate = d.join(PROJECT_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
        cur = d.parent();
    }
    Err(ConfigError::NoProject(start))
}

/// A short display name for a path: relative to the current directory when
/// it lies below it.
pub fn display_name(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let canonical = path.canonicalize().ok();
    let path = canonical.as_deref().unwrap_or(path);
    let cwd = cwd.and_then(|c| c.canonicalize().ok());
    let rel = cwd
        .as_ref()
        .and_then(|c| path.strip_prefix(c).ok())
        .unwrap_or(path);
    rel.display().to_string()
}

/// Read and parse one YAML file. A YAML syntax error is returned as a
/// diagnostic in `diags`, with `root: None`.
pub fn read_yaml(path: &Path, diags: &mut Diagnostics) -> Result<Parsed, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_yaml(SourceFile::new(display_name(path), text), diags))
}

/// Parse an in-memory file.
pub fn parse_yaml(file: Arc<SourceFile>, diags: &mut Diagnostics) -> Parsed {
    match yaml::parse(&file) {
        Ok(root) => Parsed {
            file,
            root: Some(root),
        },
        Err(d) => {
            diags.push(*d);
            Parsed { file, root: None }
        }
    }
}

/// Load a project file.
pub fn load_project(path: &Path, diags: &mut Diagnostics) -> Result<ProjectFile, ConfigError> {
    let parsed = read_yaml(path, diags)?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(ProjectFile {
        path: path.to_path_buf(),
        dir,
        parsed,
    })
}

/// The project's temporary folder when `tmp_dir:` is not set, relative to
/// the project file.
pub const DEFAULT_TMP_DIR: &str = ".mapsync/tmp";

/// The project's temporary folder (docs/sync.md, "Temporary files"): the
/// project file's `tmp_dir:`, relative to its directory, or
/// [`DEFAULT_TMP_DIR`]. A file that cannot be read gives the default
/// (commands report the file's problems themselves).
pub fn tmp_dir(project_file: &Path) -> PathBuf {
    let dir = project_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut diags = Diagnostics::new();
    let named = read_yaml(project_file, &mut diags)
        .ok()
        .and_then(|p| p.root)
        .and_then(|r| r.get("tmp_dir").and_then(Node::as_str).map(str::to_owned))
        .filter(|t| !t.trim().is_empty());
    dir.join(named.as_deref().unwrap_or(DEFAULT_TMP_DIR))
}

/// The YAML files of a mapping directory, in name order.
pub fn mapping_dir_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let read = |source| ConfigError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let p = entry.map_err(read)?.path();
        let is_yaml = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(ConfigError::EmptyDir(dir.to_path_buf()));
    }
    Ok(files)
}

/// Load a mapping set from a file or a directory.
pub fn load_mapping_set(path: &Path, diags: &mut Diagnostics) -> Result<MappingFiles, ConfigError> {
    let files = if path.is_dir() {
        mapping_dir_files(path)?
    } else {
        vec![path.to_path_buf()]
    };
    let mut parts = Vec::new();
    for f in files {
        parts.push(read_yaml(&f, diags)?);
    }
    Ok(merge_parts(path.to_path_buf(), parts, diags))
}

/// Merge parsed parts into one mapping set.
pub fn merge_parts(path: PathBuf, parts: Vec<Parsed>, diags: &mut Diagnostics) -> MappingFiles {
    let mut merged: Option<Node> = None;
    for p in &parts {
        let Some(root) = &p.root else { continue };
        merged = Some(match merged {
            None => root.clone(),
            Some(acc) => merge(acc, root.clone(), diags),
        });
    }
    let merged = merged.unwrap_or(Node {
        kind: Kind::Map(Vec::new()),
        start: 0,
        end: 0,
        file: parts.first().map(|p| p.file.clone()),
    });
    MappingFiles {
        path,
        parts,
        merged,
    }
}

/// Keys whose values must agree across the files of one mapping set
/// rather than be reported as defined twice.
const SHARED_SCALARS: &[&str] = &["mapsync", "name", "target"];

fn merge(mut a: Node, b: Node, diags: &mut Diagnostics) -> Node {
    match (&mut a.kind, b.kind) {
        (Kind::Map(ae), Kind::Map(be)) => {
            for (bk, bv) in be {
                let key = bk.as_str().map(str::to_string);
                let pos = key
                    .as_deref()
                    .and_then(|k| ae.iter().position(|(ak, _)| ak.as_str() == Some(k)));
                match pos {
                    Some(i) if ae[i].1.as_map().is_some() && bv.as_map().is_some() => {
                        let av = std::mem::replace(
                            &mut ae[i].1,
                            Node {
                                kind: Kind::Null,
                                start: 0,
                                end: 0,
                                file: None,
                            },
                        );
                        ae[i].1 = merge(av, bv, diags);
                    }
                    Some(i) if ae[i].1.as_seq().is_some() && bv.as_seq().is_some() => {
                        if let (Kind::Seq(xs), Kind::Seq(ys)) = (&mut ae[i].1.kind, bv.kind) {
                            xs.extend(ys);
                        }
                    }
                    Some(i) if key.as_deref().is_some_and(|k| SHARED_SCALARS.contains(&k)) => {
                        if ae[i].1.scalar_text() != bv.scalar_text() {
                            diags.push(
                                Diagnostic::error(
                                    codes::MAPPING_CONFLICT,
                                    format!(
                                        "`{}` differs between the files of this mapping set",
                                        key.as_deref().unwrap_or("")
                                    ),
                                )
                                .at_opt(bv.loc())
                                .label("differs from the earlier file")
                                .help("give every file of a mapping set the same value, or remove it from all but one"),
                            );
                        }
                    }
                    _ => ae.push((bk, bv)),
                }
            }
            a
        }
        (_, kind) => Node { kind, ..b },
    }
}
