//! Pre-flight rules: what a target refuses, declared as data by its
//! connector ([`crate::target::Capabilities::rules`]) and evaluated on
//! every desired document before anything is sent (`mapsync-plan`'s
//! `preflight`). A document that breaks a rule is an `invalid` item of
//! the plan, with a diagnostic `preflight::<rule>` naming the rule, the
//! record and the fix; the store never sees it.
//!
//! The rules name fields as the target's field table does (`price`,
//! `custom_url`); the evaluator knows no platform. docs/preflight.md
//! lists each rule, and for every refusal the emulated stores can give,
//! the rule that catches it or why only the store can know.

/// Where a field lives in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum On {
    /// A category's fields.
    Category,
    /// A product's own fields.
    Product,
    /// Each variant's fields.
    Variant,
}

impl On {
    /// The word used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            On::Category => "category",
            On::Product => "product",
            On::Variant => "variant",
        }
    }
}

/// How far a value must be unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Among the variants of one product.
    Product,
    /// Among every item of the run (and so of the store).
    Run,
}

/// A text format a field's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A handle: lower-case letters, digits, `-` and `_`, at most 255
    /// characters, not only dashes.
    Handle,
    /// A store URL path: starts with `/`, no spaces or control characters,
    /// at most 255 characters.
    UrlPath,
}

/// One thing a target refuses, as data. A field name ending in `.*`
/// (`custom_fields.*`) names every field of that prefix family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Variants are told apart by their option values: more than one
    /// variant needs at least one option, and no two variants share all
    /// their option values.
    VariantsByOptions,
    /// At most the target's [`crate::target::Limits::variants`] variants
    /// in a product.
    VariantCount,
    /// At most `max` distinct values in one option.
    OptionValues {
        /// The most values an option takes.
        max: usize,
    },
    /// A field the target needs on a create: a product or category
    /// without it is refused (for [`On::Variant`], every variant needs it).
    /// Checked on every document: one without it could not be created.
    Required {
        /// Where.
        on: On,
        /// The field table's name.
        field: &'static str,
    },
    /// A decimal field's range and precision.
    Decimal {
        /// Where.
        on: On,
        /// The field table's name.
        field: &'static str,
        /// The least value (whole units), if any.
        min: Option<i64>,
        /// The greatest value (whole units), if any.
        max: Option<i64>,
        /// Digits after the point the target keeps at most, if it
        /// refuses more.
        scale: Option<u8>,
    },
    /// A text field's format.
    Format {
        /// Where.
        on: On,
        /// The field table's name.
        field: &'static str,
        /// The format.
        format: Format,
    },
    /// A text field's greatest length in characters.
    MaxLength {
        /// Where.
        on: On,
        /// The field table's name.
        field: &'static str,
        /// Characters at most.
        max: usize,
    },
    /// A field's value is unique (empty values are not compared).
    Unique {
        /// Where.
        on: On,
        /// The field table's name.
        field: &'static str,
        /// Among what.
        scope: Scope,
        /// Whether the target compares the values without regard to
        /// case (and surrounding spaces).
        ignore_case: bool,
        /// A field whose value scopes the uniqueness (e.g. a category's
        /// `parent`: one name per parent); `None`: the whole store.
        within: Option<&'static str>,
    },
    /// A family of fields (`prefix` then a name, e.g. `custom_fields.Material`):
    /// at most `max_count` members with a value, names of at most
    /// `max_name` characters.
    Family {
        /// Where.
        on: On,
        /// The family's prefix, e.g. `custom_fields.`.
        prefix: &'static str,
        /// Members with a value at most.
        max_count: usize,
        /// Characters of a member's name at most.
        max_name: usize,
    },
    /// Stock quantities within a range (`Quantity_X` values).
    Quantity {
        /// The least quantity.
        min: i64,
        /// The greatest quantity.
        max: i64,
    },
    /// Metafield values are valid for their type (checked while the
    /// record compiles: `record::metafield-value`).
    MetafieldValues,
    /// Images are absolute `http(s)` URLs or embedded data (whose bytes are
    /// checked while the record compiles: `record::image-data`).
    ImageSources,
    /// A metafield value (as sent: text, JSON text for JSON types) of at
    /// most `max` characters.
    MetafieldLength {
        /// Characters at most.
        max: usize,
    },
    /// An embedded image's file is at most `max` bytes.
    ImageBytes {
        /// Bytes at most.
        max: usize,
    },
}

impl Rule {
    /// The rule's stable name: its diagnostic code is `preflight::<name>`.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::VariantsByOptions => "variants-by-options",
            Rule::VariantCount => "variant-count",
            Rule::OptionValues { .. } => "option-values",
            Rule::Required { .. } => "required",
            Rule::Decimal { .. } => "decimal",
            Rule::Format { .. } => "format",
            Rule::MaxLength { .. } => "max-length",
            Rule::Unique {
                scope: Scope::Product,
                ..
            } => "unique-in-product",
            Rule::Unique {
                scope: Scope::Run, ..
            } => "unique-in-run",
            Rule::Family { .. } => "family",
            Rule::Quantity { .. } => "quantity",
            Rule::MetafieldValues => "metafield-values",
            Rule::ImageSources => "image-sources",
            Rule::ImageBytes { .. } => "image-size",
            Rule::MetafieldLength { .. } => "metafield-length",
        }
    }

    /// The diagnostic code of a document that breaks the rule.
    pub fn code(&self) -> crate::diag::codes::Code {
        use crate::diag::codes;
        match self {
            Rule::VariantsByOptions => codes::PREFLIGHT_VARIANTS_BY_OPTIONS,
            Rule::VariantCount => codes::PREFLIGHT_VARIANT_COUNT,
            Rule::OptionValues { .. } => codes::PREFLIGHT_OPTION_VALUES,
            Rule::Required { .. } => codes::PREFLIGHT_REQUIRED,
            Rule::Decimal { .. } => codes::PREFLIGHT_DECIMAL,
            Rule::Format { .. } => codes::PREFLIGHT_FORMAT,
            Rule::MaxLength { .. } => codes::PREFLIGHT_MAX_LENGTH,
            Rule::Unique {
                scope: Scope::Product,
                ..
            } => codes::PREFLIGHT_UNIQUE_IN_PRODUCT,
            Rule::Unique {
                scope: Scope::Run, ..
            } => codes::PREFLIGHT_UNIQUE_IN_RUN,
            Rule::Family { .. } => codes::PREFLIGHT_FAMILY,
            Rule::Quantity { .. } => codes::PREFLIGHT_QUANTITY,
            Rule::MetafieldValues => codes::RECORD_METAFIELD_VALUE,
            Rule::ImageSources => codes::PREFLIGHT_IMAGE_SOURCES,
            Rule::ImageBytes { .. } => codes::PREFLIGHT_IMAGE_SIZE,
            Rule::MetafieldLength { .. } => codes::PREFLIGHT_METAFIELD_LENGTH,
        }
    }

    /// Every rule name, for docs and the corpus (`preflight::<name>`).
    pub const NAMES: &'static [&'static str] = &[
        "variants-by-options",
        "variant-count",
        "option-values",
        "required",
        "decimal",
        "format",
        "max-length",
        "unique-in-product",
        "unique-in-run",
        "family",
        "quantity",
        "metafield-values",
        "image-sources",
        "image-size",
        "metafield-length",
    ];
}

/// Whether `rules` holds a rule that needs values compared across the
/// run (kept per item as [`crate::document::Control::unique`]).
pub fn needs_run_values(rules: &[Rule]) -> bool {
    rules.iter().any(|r| {
        matches!(
            r,
            Rule::Unique {
                scope: Scope::Run,
                ..
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_listed_and_codes_follow_them() {
        let all = [
            Rule::VariantsByOptions,
            Rule::VariantCount,
            Rule::OptionValues { max: 1 },
            Rule::Required {
                on: On::Product,
                field: "x",
            },
            Rule::Decimal {
                on: On::Variant,
                field: "x",
                min: None,
                max: None,
                scale: None,
            },
            Rule::Format {
                on: On::Product,
                field: "x",
                format: Format::Handle,
            },
            Rule::MaxLength {
                on: On::Product,
                field: "x",
                max: 1,
            },
            Rule::Unique {
                on: On::Variant,
                field: "sku",
                scope: Scope::Product,
                ignore_case: false,
                within: None,
            },
            Rule::Unique {
                on: On::Variant,
                field: "sku",
                scope: Scope::Run,
                ignore_case: true,
                within: None,
            },
            Rule::Family {
                on: On::Product,
                prefix: "x.",
                max_count: 1,
                max_name: 1,
            },
            Rule::Quantity { min: 0, max: 1 },
            Rule::MetafieldValues,
            Rule::ImageSources,
            Rule::ImageBytes { max: 1 },
            Rule::MetafieldLength { max: 1 },
        ];
        for r in all {
            assert!(Rule::NAMES.contains(&r.name()), "{r:?}");
            if r != Rule::MetafieldValues {
                assert_eq!(r.code().name, format!("preflight::{}", r.name()));
            }
        }
        assert_eq!(Rule::NAMES.len(), all.len());
    }
}
