//! Where a `map:` entry is and how its key is looked up in the target's
//! field table (declared by the connector, see
//! [`mapsync_core::fields::FieldTable`]).

pub use mapsync_core::fields::{check_literal, parse_bool, FieldTable, FieldType, ANY_NAME};

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

/// The fields of a context, as the table lists them (with the
/// [`ANY_NAME`] entry of an open context).
pub fn fields(table: &FieldTable, ctx: Context) -> &'static [(&'static str, FieldType)] {
    match ctx {
        Context::Category => table.category,
        Context::Product => table.product,
        Context::Variant => table.variant,
    }
}

/// The names of a context's known fields, for suggestions and help.
pub fn known(table: &FieldTable, ctx: Context) -> impl Iterator<Item = &'static str> {
    fields(table, ctx)
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| *n != ANY_NAME)
}

/// Whether a context takes any field name (its list holds [`ANY_NAME`]).
pub fn is_open(table: &FieldTable, ctx: Context) -> bool {
    fields(table, ctx).iter().any(|(n, _)| *n == ANY_NAME)
}

/// The type of `name` in `ctx`, if it is a known field there (in an open
/// context, any name not listed has the [`ANY_NAME`] entry's type).
pub fn lookup(table: &FieldTable, ctx: Context, name: &str) -> Option<FieldType> {
    let list = fields(table, ctx);
    list.iter()
        .find(|(n, _)| *n == name && *n != ANY_NAME)
        .or_else(|| list.iter().find(|(n, _)| *n == ANY_NAME))
        .map(|(_, t)| *t)
}
