//! The registry of diagnostic codes: every code mapsync can report, with a
//! one-line summary. `docs/diagnostics.md` lists the same codes (a test
//! keeps them in agreement). Codes are stable: never rename one.

/// A stable diagnostic code such as `metafield::namespace-length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code {
    /// The code as printed.
    pub name: &'static str,
    /// What it means, in one line.
    pub summary: &'static str,
}

macro_rules! codes {
    ($($ident:ident = $name:literal, $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $ident: Code = Code { name: $name, summary: $summary };
        )*
        /// Every code, in documentation order.
        pub const ALL: &[Code] = &[$($ident),*];
    };
}

codes! {
    YAML_SYNTAX = "yaml::syntax", "the file is not valid YAML";
}
