//! The `rest` target's field table and capabilities. A generic store API
//! takes the fields its own API names: a mapping set with `target: rest`
//! writes any top-level field name (`title`, `price`, `seo.title` as a
//! nested object...), values kept as the source gives them (a number stays
//! a number); `title` is text. Images and categories have their own
//! requests and options; variants and options are not written (the
//! variant table is empty, a product has no options).

use mapsync_core::current::CompareRules;
use mapsync_core::fields::{FieldTable, FieldType, ANY_NAME};
use mapsync_core::rules::Rule;
use mapsync_core::target::{Capabilities, Limits};
use mapsync_core::Entity;

/// Fields of categories and products: `title`, and any other name.
const ENTITY_FIELDS: &[(&str, FieldType)] =
    &[("title", FieldType::Text), (ANY_NAME, FieldType::Any)];

/// The table for mapping sets with `target: rest`.
pub const FIELDS: FieldTable = FieldTable {
    kind: "rest",
    category: ENTITY_FIELDS,
    product: ENTITY_FIELDS,
    variant: &[],
};

/// What the `rest` target declares.
pub const CAPABILITIES: Capabilities = Capabilities {
    kind: "rest",
    entities: &[Entity::Category, Entity::Product],
    limits: Limits {
        // No variants, so no options: `validate` refuses them.
        options: 0,
        variants: 0,
        // The API says nothing: as many as the mapping gives.
        images: usize::MAX,
        metafields_per_write: usize::MAX,
        write_batch: 1,
    },
    // Values compare as the store gives them back.
    compare: CompareRules::PLAIN,
    fields: &FIELDS,
    // `list.key` keeps mapsync's key.
    marks_ownership: true,
    // Categories do not nest.
    category_parent: None,
    rules: RULES,
    // The configured requests have no search: `match:` is refused.
    matchable: &[],
};

/// What any store API behind the `rest` target refuses, as far as mapsync
/// can know: images go by absolute URL (the `images` requests send them as
/// given) or as embedded data. Required fields and formats are the API's
/// own (a `rest` mapping names its fields freely: `title`, `name`...);
/// docs/preflight.md.
pub const RULES: &[Rule] = &[Rule::ImageSources];
