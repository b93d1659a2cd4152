//! Using a profile: the project file is validated, the named profile is
//! picked and its `${ENV}` references are resolved. Secrets stay in
//! [`Secret`], whose `Debug` never shows them; no resolved value is ever put
//! in an error message.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::env;
use super::yaml::Node;
use crate::connector::{Connector, Options, Registry, Role};
use mapsync_core::diag::Diagnostics;

pub use crate::connector::Secret;

/// A profile's source or target: the connector its `type:` names and its
/// options with `${ENV}` resolved.
#[derive(Clone)]
pub struct Endpoint {
    /// The connector.
    pub connector: Arc<dyn Connector>,
    /// Its options (may hold secrets; `Debug` shows only the keys).
    pub options: Options,
}

impl Endpoint {
    /// The connector `registry` holds for the `type:` of `value` (options
    /// with `${ENV}` already resolved), serving `role`.
    pub fn resolve(
        registry: &Registry,
        role: Role,
        profile: &str,
        project_dir: &Path,
        value: serde_json::Value,
    ) -> Result<Endpoint, ProfileError> {
        let values = match value {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        let options = Options::new(role, profile, project_dir, values);
        let connector = registry
            .get(options.type_name())
            .filter(|c| c.options_schema(role).is_some())
            .ok_or_else(|| ProfileError::UnknownType {
                profile: profile.to_string(),
                role: role.key(),
                type_name: options.type_name().to_string(),
                known: registry.types(role).join(", "),
            })?;
        Ok(Endpoint { connector, options })
    }

    /// The connector's `type:`.
    pub fn type_name(&self) -> &'static str {
        self.connector.type_name()
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("type", &self.connector.type_name())
            .field("options", &self.options)
            .finish()
    }
}

/// A resolved profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Profile name.
    pub name: String,
    /// Directory of the project file.
    pub project_dir: PathBuf,
    /// The mapping set path (absolute or relative to the cwd).
    pub mapping: PathBuf,
    /// The source. Holds no secret of the target; a source token, if any,
    /// is only ever passed to the source.
    pub source: Endpoint,
    /// The target.
    pub target: Endpoint,
    /// The state store URL.
    pub state: String,
    /// The channel (default: the profile name).
    pub channel: String,
    /// The connectors the profile was checked with (mapping sets are
    /// checked against their field tables).
    pub registry: Registry,
}

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The project file has errors; render the diagnostics.
    #[error("the project file has errors; run `mapsync validate` for details")]
    Invalid(Diagnostics),
    /// No such profile.
    #[error("no profile `{name}` in {file}{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    Unknown {
        /// Asked for.
        name: String,
        /// The project file.
        file: String,
        /// The closest profile name.
        suggestion: Option<String>,
    },
    /// An environment variable is not set or malformed.
    #[error("profile `{profile}`, `{field}`: {source}; set it in the environment before running")]
    Env {
        /// Profile.
        profile: String,
        /// Which field (e.g. `target.token`).
        field: String,
        /// What is wrong.
        source: env::EnvError,
    },
    /// The profile names a connector type this mapsync does not have.
    #[error("profile `{profile}`: no {role} connector of type `{type_name}`; the {role} types are: {known}")]
    UnknownType {
        /// Profile.
        profile: String,
        /// `source` or `target`.
        role: &'static str,
        /// As written.
        type_name: String,
        /// The registered types for that role.
        known: String,
    },
    /// The file could not be read.
    #[error(transparent)]
    Config(#[from] super::ConfigError),
}

/// Load the project file, validate it (with the connectors of `registry`)
/// and resolve one profile. A profile whose source or target type the
/// registry does not hold never loads.
pub fn load(
    project_file: &Path,
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
    registry: &Registry,
) -> Result<Profile, ProfileError> {
    let diags = crate::check::validate(&[project_file.to_path_buf()], Path::new("."), registry)?;
    if diags.has_errors() {
        return Err(ProfileError::Invalid(diags));
    }
    let mut scratch = Diagnostics::new();
    let project = super::load_project(project_file, &mut scratch)?;
    let root = project.parsed.root.clone().unwrap_or(Node {
        kind: super::yaml::Kind::Null,
        start: 0,
        end: 0,
        file: None,
    });
    resolve_one(&project, &root, name, &lookup, registry)
}

/// A validated project with every profile resolved, for `mapsync run`.
#[derive(Debug)]
pub struct LoadedProject {
    /// The project file.
    pub file: PathBuf,
    /// Every profile in file order: its resolution (a missing `${ENV}`
    /// fails only that profile) and its `schedule:`, if any.
    pub profiles: Vec<(
        String,
        Result<Profile, String>,
        Option<crate::schedule::Schedule>,
    )>,
    /// The `run:` section.
    pub run: crate::schedule::RunSettings,
    /// The diagnostics of the validation (warnings only: errors refuse).
    pub diagnostics: Diagnostics,
    /// The project file and every mapping file its profiles use (what a
    /// change to means a reload).
    pub files: Vec<PathBuf>,
}

/// Load the project file, validate it once and resolve every profile.
/// Errors in the project or any mapping set refuse the whole project
/// ([`ProfileError::Invalid`] with every diagnostic).
pub fn load_all(
    project_file: &Path,
    lookup: impl Fn(&str) -> Option<String>,
    registry: &Registry,
) -> Result<LoadedProject, ProfileError> {
    let diags = crate::check::validate(&[project_file.to_path_buf()], Path::new("."), registry)?;
    if diags.has_errors() {
        return Err(ProfileError::Invalid(diags));
    }
    let mut scratch = Diagnostics::new();
    let project = super::load_project(project_file, &mut scratch)?;
    let root = project.parsed.root.clone().unwrap_or(Node {
        kind: super::yaml::Kind::Null,
        start: 0,
        end: 0,
        file: None,
    });
    let mut files = vec![project_file.to_path_buf()];
    let mut profiles = Vec::new();
    for (k, p) in root.get("profiles").and_then(Node::as_map).unwrap_or(&[]) {
        let Some(name) = k.as_str() else { continue };
        let schedule = p
            .get("schedule")
            .and_then(|s| crate::schedule::parse(s).ok());
        let resolved =
            resolve_one(&project, &root, name, &lookup, registry).map_err(|e| e.to_string());
        if let Ok(profile) = &resolved {
            let m = &profile.mapping;
            let parts = if m.is_dir() {
                super::mapping_dir_files(m).unwrap_or_default()
            } else {
                vec![m.clone()]
            };
            for f in parts {
                if !files.contains(&f) {
                    files.push(f);
                }
            }
        }
        profiles.push((name.to_string(), resolved, schedule));
    }
    Ok(LoadedProject {
        file: project_file.to_path_buf(),
        profiles,
        run: crate::schedule::run_settings(root.get("run")),
        diagnostics: diags,
        files,
    })
}

fn resolve_one(
    project: &super::ProjectFile,
    root: &Node,
    name: &str,
    lookup: &impl Fn(&str) -> Option<String>,
    registry: &Registry,
) -> Result<Profile, ProfileError> {
    let profiles = root.get("profiles").and_then(Node::as_map).unwrap_or(&[]);
    let Some((_, p)) = profiles.iter().find(|(k, _)| k.as_str() == Some(name)) else {
        let names = profiles.iter().filter_map(|(k, _)| k.as_str());
        return Err(ProfileError::Unknown {
            name: name.to_string(),
            file: project.parsed.file.name.clone(),
            suggestion: mapsync_core::diag::suggest(name, names),
        });
    };
    let resolve = |field: &str, s: &str| {
        env::interpolate(s, lookup).map_err(|source| ProfileError::Env {
            profile: name.to_string(),
            field: field.to_string(),
            source,
        })
    };
    let text = |n: Option<&Node>, field: &str| -> Result<Option<String>, ProfileError> {
        match n.and_then(Node::as_str) {
            Some(s) => resolve(field, s).map(Some),
            None => Ok(n.and_then(Node::scalar_text)),
        }
    };
    let dir = project.dir.clone();
    let mapping = dir.join(text(p.get("mapping"), "mapping")?.unwrap_or_default());
    let endpoint = |role: Role| -> Result<Endpoint, ProfileError> {
        let key = role.key();
        let mut value = p.get(key).map(Node::to_json).unwrap_or_default();
        interpolate_json(&mut value, key, &resolve)?;
        // `validate` above refuses unknown types; this is the same rule.
        Endpoint::resolve(registry, role, name, &dir, value)
    };
    let source = endpoint(Role::Source)?;
    let target = endpoint(Role::Target)?;
    Ok(Profile {
        name: name.to_string(),
        project_dir: dir,
        mapping,
        source,
        target,
        state: text(p.get("state"), "state")?.unwrap_or_else(|| "sqlite:.mapsync/state.db".into()),
        channel: text(p.get("channel"), "channel")?.unwrap_or_else(|| name.to_string()),
        registry: registry.clone(),
    })
}

fn interpolate_json(
    v: &mut serde_json::Value,
    field: &str,
    resolve: &impl Fn(&str, &str) -> Result<String, ProfileError>,
) -> Result<(), ProfileError> {
    match v {
        serde_json::Value::String(s) => *s = resolve(field, s)?,
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                interpolate_json(x, &format!("{field}.{k}"), resolve)?;
            }
        }
        serde_json::Value::Array(a) => {
            for x in a.iter_mut() {
                interpolate_json(x, field, resolve)?;
            }
        }
        _ => {}
    }
    Ok(())
}
