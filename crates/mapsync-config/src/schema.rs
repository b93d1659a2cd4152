//! The JSON Schemas of the project file and of mapping files, shipped in
//! `schemas/` and embedded in the binary.

/// Which schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// `mapsync.yaml` project files.
    Project,
    /// Mapping files.
    Mapping,
}

/// The schema text.
pub fn text(which: Which) -> &'static str {
    match which {
        Which::Project => include_str!("../../../schemas/project.schema.json"),
        Which::Mapping => include_str!("../../../schemas/mapping.schema.json"),
    }
}
