//! The `file` connector as the registry sees it: its options schema, the
//! checks a schema cannot make (the format from the extension, a missing
//! file, CSV-only options) and opening the source.

use std::path::Path;

use mapsync_config::connector::{CheckContext, Connector, Options, Role};
use mapsync_config::yaml::Node;
use mapsync_core::diag::{codes, Diagnostic, Diagnostics};
use mapsync_core::source::{Source, SourceError};

use crate::FileSource;

/// The `file` source connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileConnector;

const SOURCE_SCHEMA: &str = include_str!("../schema/source.schema.json");

impl Connector for FileConnector {
    fn type_name(&self) -> &'static str {
        "file"
    }

    fn summary(&self) -> &'static str {
        "JSON, NDJSON, CSV or YAML records from a file"
    }

    fn options_schema(&self, role: Role) -> Option<&'static str> {
        (role == Role::Source).then_some(SOURCE_SCHEMA)
    }

    fn check(&self, _role: Role, s: &Node, cx: &CheckContext<'_>, diags: &mut Diagnostics) {
        check_source(s, cx.project_dir, diags);
    }

    fn open_source(&self, options: &Options) -> Result<Box<dyn Source>, SourceError> {
        let value = serde_json::Value::Object(options.values().clone());
        Ok(Box::new(FileSource::from_value(
            &value,
            options.project_dir(),
        )?))
    }
}

/// The format a path's extension implies.
fn format_of(path: &str) -> Option<&'static str> {
    let ext = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "json" => "json",
        "ndjson" | "jsonl" => "ndjson",
        "csv" | "tsv" => "csv",
        "yaml" | "yml" => "yaml",
        _ => return None,
    })
}

fn check_source(s: &Node, dir: &Path, diags: &mut Diagnostics) {
    let path = s.get("path");
    let Some(path_text) = path.and_then(Node::as_str) else {
        if path.is_none() {
            diags.push(
                Diagnostic::error(codes::PROJECT_SOURCE_PATH, "a `file` source needs a `path`")
                    .at_opt(s.loc())
                    .label("no `path:`")
                    .help("add `path: examples/catalog.json` (relative to the project file)"),
            );
        }
        return;
    };
    let format = match s.get("format").and_then(Node::as_str) {
        Some(f) => f.to_string(),
        None => match format_of(path_text) {
            Some(f) => f.to_string(),
            None => {
                diags.push(
                    Diagnostic::error(
                        codes::PROJECT_SOURCE_FORMAT,
                        format!("cannot tell the format of `{path_text}` from its extension"),
                    )
                    .at_opt(path.and_then(Node::loc))
                    .label("unknown extension")
                    .help("add `format: json` (or ndjson, csv, yaml), or rename the file"),
                );
                return;
            }
        },
    };
    if !path_text.contains("${") && !dir.join(path_text).exists() {
        diags.push(
            Diagnostic::warning(
                codes::PROJECT_SOURCE_MISSING,
                format!("source file `{path_text}` does not exist (yet)"),
            )
            .at_opt(path.and_then(Node::loc))
            .label("not found")
            .help("a sync with this profile fails until the file exists; paths are relative to the project file"),
        );
    }
    if (format == "csv" || format == "ndjson") && s.get("entity").is_none() {
        diags.push(
            Diagnostic::error(
                codes::PROJECT_SOURCE_ENTITY,
                format!("a {format} source holds one entity; say which"),
            )
            .at_opt(s.loc())
            .label("no `entity:`")
            .help("add `entity: product` (or `entity: category`)"),
        );
    }
    if format != "csv" {
        for opt in ["delimiter", "group_by"] {
            if let Some((k, _)) = s.entry(opt) {
                diags.push(
                    Diagnostic::error(
                        codes::PROJECT_CSV_OPTION,
                        format!("`{opt}` applies to CSV sources only, and this source is {format}"),
                    )
                    .at_opt(k.loc())
                    .label("ignored for this format")
                    .help("remove it, or set `format: csv`"),
                );
            }
        }
    }
}
