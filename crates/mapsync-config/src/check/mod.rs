//! Validation: every rule of the mapping format and the project file.
//! Stages: YAML syntax (in `config`), JSON Schema ([`schema`]), then
//! semantics ([`mapping`], [`project`]). Every stage collects diagnostics;
//! none stops at the first. Also builds the checked [`model::MappingSet`]
//! the planner compiles.

pub mod fields;
pub mod mapping;
pub mod model;
pub mod project;
pub mod schema;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::connector::Registry;
use crate::schema::Which;
use crate::{self as config, yaml::Node, ConfigError, MappingFiles};
use mapsync_core::diag::{codes, Diagnostic, Diagnostics};

pub use mapsync_core::diag::suggest;

/// Check a loaded mapping set: schema per file, then semantics on the
/// merged tree.
pub fn check_mapping_files(
    files: &MappingFiles,
    registry: &Registry,
    diags: &mut Diagnostics,
) -> model::MappingSet {
    for part in &files.parts {
        if let Some(root) = &part.root {
            schema::validate(Which::Mapping, root, diags);
        }
    }
    if files.parts.iter().all(|p| p.root.is_none()) {
        // Nothing parsed: YAML errors are all there is to say.
        return model::MappingSet::default();
    }
    mapping::check(&files.merged, registry, diags)
}

/// Load and check a mapping set from a path.
pub fn load_mapping(
    path: &Path,
    registry: &Registry,
) -> Result<(model::MappingSet, MappingFiles, Diagnostics), ConfigError> {
    let mut diags = Diagnostics::new();
    let files = config::load_mapping_set(path, &mut diags)?;
    let set = check_mapping_files(&files, registry, &mut diags);
    Ok((set, files, diags))
}

/// What `validate` was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A project file (or a directory holding `mapsync.yaml`).
    Project,
    /// A mapping file or directory.
    Mapping,
}

/// Decide whether a path is a project or a mapping set.
pub fn classify(path: &Path) -> PathKind {
    if path.is_dir() {
        if path.join(config::PROJECT_FILE).is_file() {
            return PathKind::Project;
        }
        return PathKind::Mapping;
    }
    if path.file_name().and_then(|n| n.to_str()) == Some(config::PROJECT_FILE) {
        return PathKind::Project;
    }
    // A file with a top-level `profiles:` key is a project file.
    let looks_like_project = std::fs::read_to_string(path)
        .map(|t| t.lines().any(|l| l.starts_with("profiles:")))
        .unwrap_or(false);
    if looks_like_project {
        PathKind::Project
    } else {
        PathKind::Mapping
    }
}

/// Validate paths (projects and mapping sets) offline; an empty list means
/// the project found from `start` (current directory, then parents).
/// Connector types and options, and the field tables of mapping sets, are
/// those of `registry`.
pub fn validate(
    paths: &[PathBuf],
    start: &Path,
    registry: &Registry,
) -> Result<Diagnostics, ConfigError> {
    let mut diags = Diagnostics::new();
    let mut seen = HashSet::new();
    let targets: Vec<PathBuf> = if paths.is_empty() {
        vec![config::find_project(start)?]
    } else {
        paths.to_vec()
    };
    for p in &targets {
        if !p.exists() {
            return Err(ConfigError::Read {
                path: p.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
        match classify(p) {
            PathKind::Project => {
                let file = if p.is_dir() {
                    p.join(config::PROJECT_FILE)
                } else {
                    p.clone()
                };
                validate_project(&file, registry, &mut seen, &mut diags)?;
            }
            PathKind::Mapping => {
                if seen.insert(canonical(p)) {
                    let files = config::load_mapping_set(p, &mut diags)?;
                    check_mapping_files(&files, registry, &mut diags);
                }
            }
        }
    }
    diags.sort();
    Ok(diags)
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

fn validate_project(
    file: &Path,
    registry: &Registry,
    seen: &mut HashSet<PathBuf>,
    diags: &mut Diagnostics,
) -> Result<(), ConfigError> {
    let project = config::load_project(file, diags)?;
    let Some(root) = &project.parsed.root else {
        return Ok(());
    };
    schema::validate(Which::Project, root, diags);
    let refs = project::check(root, &project.dir, registry, diags);
    for r in refs {
        let path = project.dir.join(&r.path);
        let files = match config::load_mapping_set(&path, diags) {
            Ok(f) => f,
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        codes::PROJECT_MAPPING_MISSING,
                        format!("profile `{}`: {e}", r.profile),
                    )
                    .at_opt(r.node.loc())
                    .label("cannot be loaded")
                    .help("point `mapping:` at a mapping file or a directory of .yaml files"),
                );
                continue;
            }
        };
        let first = seen.insert(canonical(&path));
        let set = if first {
            check_mapping_files(&files, registry, diags)
        } else {
            // Already reported; check silently for the cross-file rules.
            check_mapping_files(&files, registry, &mut Diagnostics::new())
        };
        if r.source.as_ref().is_some_and(|c| !c.writes_back()) {
            writeback_warning(&files.merged, &set, &r, diags);
        }
        source_not_writable(&set, &r, diags);
        target_mismatch(&files.merged, &set, &r, diags);
    }
    Ok(())
}

/// A profile pairing a mapping set written for one target kind with a
/// target connector of another is an error: its `map:` keys were checked
/// against the wrong field table.
fn target_mismatch(
    merged: &Node,
    set: &model::MappingSet,
    r: &project::MappingRef,
    diags: &mut Diagnostics,
) {
    let Some(caps) = r.target.as_ref().and_then(|t| t.capabilities()) else {
        return;
    };
    let kind = caps.fields.kind;
    if set.target == kind {
        return;
    }
    let type_name = r.target.as_ref().map(|t| t.type_name()).unwrap_or_default();
    diags.push(
        Diagnostic::error(
            codes::PROJECT_TARGET_MISMATCH,
            format!(
                "profile `{}` writes to a `{type_name}` target, but its mapping set `{}` is written for `{}`",
                r.profile, r.path, set.target
            ),
        )
        .at_opt(r.target_type.as_ref().and_then(Node::loc))
        .label(format!("accepts mapping sets for `{kind}`"))
        .related(
            merged.get("target").and_then(Node::loc),
            format!("written for `{}`", set.target),
        )
        .help(format!(
            "point `mapping:` at a mapping set with `target: {kind}`, or choose a target of kind `{}`",
            set.target
        )),
    );
}

/// A field flowing `to_source` or `both` needs a source connector that
/// can be written (it declares write-back; the `file` source cannot).
/// A source that can be written in general (`rest`) writes only the
/// entities it has a write request for (`writeback.<entity>`).
fn source_not_writable(set: &model::MappingSet, r: &project::MappingRef, diags: &mut Diagnostics) {
    let (Some(source), Some(options)) = (&r.source, &r.source_options) else {
        return;
    };
    let type_name = source.type_name();
    for ent in [&set.category, &set.product].into_iter().flatten() {
        if source.writes_back_entity(options, ent.kind) {
            continue;
        }
        let why = if source.writes_back() {
            format!(
                "its `{type_name}` source has no `writeback.{}` request",
                ent.kind.as_str()
            )
        } else {
            format!("it reads a `{type_name}` source, which cannot be written")
        };
        let all = ent
            .fields
            .iter()
            .chain(ent.variants.iter().flat_map(|v| v.fields.iter()));
        for f in all.filter(|f| f.direction.is_two_way()) {
            diags.push(
                Diagnostic::error(
                    codes::TWO_WAY_SOURCE_NOT_WRITABLE,
                    format!(
                        "profile `{}`: {why}, but this field flows `{}`",
                        r.profile,
                        f.direction.as_str()
                    ),
                )
                .at_opt(f.direction_at.clone())
                .label("the target's value would have nowhere to go")
                .related(r.node.loc(), "the profile's mapping")
                .help(format!(
                    "use a source that can be written (`rest`, with a `writeback.{}` request), or remove `direction:` (the field flows to the target)",
                    ent.kind.as_str()
                )),
            );
        }
    }
}

fn writeback_warning(
    merged: &Node,
    set: &model::MappingSet,
    r: &project::MappingRef,
    diags: &mut Diagnostics,
) {
    for (name, ent) in [("category", &set.category), ("product", &set.product)] {
        let Some(ent) = ent else { continue };
        if !ent.writeback.any() {
            continue;
        }
        let at = merged
            .get("entities")
            .and_then(|e| e.get(name))
            .and_then(|e| e.entry("writeback"))
            .and_then(|(k, _)| k.loc());
        // A declared SyncDate is read as it is (mapping-format.md §3.3): in
        // a file it stays empty, so every item is synced again each run.
        let (label, help) = if ent.writeback.sync_date.is_some() {
            (
                "SyncDate stays empty in the file, so every item is updated on every run (rule update.never-synced)",
                "remove `writeback.sync_date` (and `sync_id`) for a file source: the ledger (state store) keeps them, and unchanged items are then skipped",
            )
        } else {
            (
                "SyncID, SyncDate and SyncMsg go only to the ledger",
                "this is fine for files: the ledger (state store) keeps them; use a source that supports write-back to see them in the source",
            )
        };
        diags.push(
            Diagnostic::warning(
                codes::PROJECT_WRITEBACK_IGNORED,
                format!(
                    "profile `{}` reads a `{}` source, which cannot be written back to",
                    r.profile,
                    r.source.as_ref().map(|c| c.type_name()).unwrap_or_default()
                ),
            )
            .at_opt(at)
            .label(label)
            .help(help),
        );
    }
}
