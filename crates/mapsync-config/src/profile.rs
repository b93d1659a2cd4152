//! Using a profile: the project file is validated, the named profile is
//! picked and its `${ENV}` references are resolved. Secrets stay in
//! [`Secret`], whose `Debug` never shows them; no resolved value is ever put
//! in an error message.

use std::fmt;
use std::path::{Path, PathBuf};

use super::env;
use super::yaml::Node;
use mapsync_core::diag::Diagnostics;

/// A secret value from the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a profile writes.
#[derive(Debug, Clone)]
pub enum TargetConfig {
    /// The embedded emulated store, started in-process.
    Sandbox {
        /// Where it persists (default `.mapsync/sandbox.json`).
        state: PathBuf,
        /// Rate-limit plan name.
        plan: Option<String>,
    },
    /// A Shopify store (or a sandbox served elsewhere).
    Shopify {
        /// `NAME.myshopify.com`, if given.
        shop: Option<String>,
        /// A full base URL, if given.
        url: Option<String>,
        /// The access token.
        token: Option<Secret>,
        /// API version.
        api_version: Option<String>,
        /// Rate-limit plan name.
        plan: Option<String>,
    },
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
    /// The source options with `${ENV}` resolved. Holds no secret of the
    /// target; a source token, if any, is only ever passed to the source.
    pub source: serde_json::Value,
    /// The target.
    pub target: TargetConfig,
    /// The state store URL.
    pub state: String,
    /// The channel (default: the profile name).
    pub channel: String,
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
    /// The file could not be read.
    #[error(transparent)]
    Config(#[from] super::ConfigError),
}

/// Load the project file, validate it and resolve one profile.
pub fn load(
    project_file: &Path,
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Profile, ProfileError> {
    let diags = crate::check::validate(&[project_file.to_path_buf()], Path::new("."))?;
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
        env::interpolate(s, &lookup).map_err(|source| ProfileError::Env {
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
    let mut source = p.get("source").map(Node::to_json).unwrap_or_default();
    interpolate_json(&mut source, "source", &resolve)?;
    let t = p.get("target");
    let target = match t.and_then(|t| t.get("type")).and_then(Node::as_str) {
        Some("shopify") => TargetConfig::Shopify {
            shop: text(t.and_then(|t| t.get("shop")), "target.shop")?,
            url: text(t.and_then(|t| t.get("url")), "target.url")?,
            token: text(t.and_then(|t| t.get("token")), "target.token")?.map(Secret),
            api_version: text(t.and_then(|t| t.get("api_version")), "target.api_version")?,
            plan: text(t.and_then(|t| t.get("plan")), "target.plan")?,
        },
        _ => TargetConfig::Sandbox {
            state: dir.join(
                text(t.and_then(|t| t.get("state")), "target.state")?
                    .unwrap_or_else(|| ".mapsync/sandbox.json".into()),
            ),
            plan: text(t.and_then(|t| t.get("plan")), "target.plan")?,
        },
    };
    Ok(Profile {
        name: name.to_string(),
        project_dir: dir,
        mapping,
        source,
        target,
        state: text(p.get("state"), "state")?.unwrap_or_else(|| "sqlite:.mapsync/state.db".into()),
        channel: text(p.get("channel"), "channel")?.unwrap_or_else(|| name.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_the_demo_profile() {
        let p = load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mapsync.yaml"),
            "demo",
            |_| None,
        )
        .unwrap();
        assert_eq!(p.channel, "demo");
        assert!(matches!(p.target, TargetConfig::Sandbox { .. }));
        assert!(p.mapping.ends_with("mappings/demo"));
    }

    #[test]
    fn unset_secret_names_the_field_not_a_value() {
        let e = load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mapsync.yaml"),
            "staging",
            |_| None,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("target.token") && msg.contains("SANDBOX_TOKEN"),
            "{msg}"
        );
        let p = load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mapsync.yaml"),
            "staging",
            |n| (n == "SANDBOX_TOKEN").then(|| "s3cret".to_string()),
        )
        .unwrap();
        assert!(!format!("{p:?}").contains("s3cret"));
    }

    #[test]
    fn unknown_profile_suggests() {
        let e = load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mapsync.yaml"),
            "dmeo",
            |_| None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("did you mean `demo`"), "{e}");
    }
}
