//! Where a `map:` entry is and how its key is looked up in the target's
//! field table (declared by the connector, see
//! [`mapsync_core::fields::FieldTable`]).

pub use mapsync_core::fields::{check_literal, parse_bool, FieldTable, FieldType};

/// Where a `map:` entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// `entities.category.map`.
    Category,
    /// `entities.product.map`.
    Product,
    /// `entities.product.variants.map`.
    Variant,
}

impl Context {
    /// The YAML path of the `map:` for messages.
    pub fn map_path(self) -> &'static str {
        match self {
            Context::Category => "entities.category.map",
            Context::Product => "entities.product.map",
            Context::Variant => "entities.product.variants.map",
        }
    }
}

/// The fields of a context.
pub fn fields(table: &FieldTable, ctx: Context) -> &'static [(&'static str, FieldType)] {
    match ctx {
        Context::Category => table.category,
        Context::Product => table.product,
        Context::Variant => table.variant,
    }
}

/// The type of `name` in `ctx`, if it is a known field there.
pub fn lookup(table: &FieldTable, ctx: Context, name: &str) -> Option<FieldType> {
    fields(table, ctx)
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}
