//! Where a `map:` entry is and how its key is looked up in the target's
//! field table (declared by the connector, see
//! [`mapsync_core::fields::FieldTable`]).

pub use mapsync_core::fields::{
    check_literal, parse_bool, prefix_matches, FieldTable, FieldType, ANY_NAME, PREFIX_WILDCARD,
};

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

/// The type of `name` in `ctx`, if it is a known field there: listed, or
/// one of the family of a prefix entry ([`PREFIX_WILDCARD`]); in an open
/// context, any name not listed has the [`ANY_NAME`] entry's type.
pub fn lookup(table: &FieldTable, ctx: Context, name: &str) -> Option<FieldType> {
    let list = fields(table, ctx);
    list.iter()
        .find(|(n, _)| *n == name && *n != ANY_NAME)
        .or_else(|| list.iter().find(|(n, _)| prefix_matches(n, name)))
        .or_else(|| list.iter().find(|(n, _)| *n == ANY_NAME))
        .map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: FieldTable = FieldTable {
        kind: "t",
        category: &[("name", FieldType::Text)],
        product: &[
            ("name", FieldType::Text),
            ("custom_fields.*", FieldType::Html),
        ],
        variant: &[],
    };

    #[test]
    fn a_prefix_entry_takes_every_name_of_its_family() {
        let cases = [
            ("name", Some(FieldType::Text)),
            ("custom_fields.Material", Some(FieldType::Html)),
            ("custom_fields.", None),
            ("custom_fieldsX", None),
            ("other", None),
        ];
        for (name, want) in cases {
            assert_eq!(lookup(&TABLE, Context::Product, name), want, "{name}");
        }
        assert_eq!(lookup(&TABLE, Context::Category, "custom_fields.A"), None);
        assert!(!is_open(&TABLE, Context::Product));
    }
}
