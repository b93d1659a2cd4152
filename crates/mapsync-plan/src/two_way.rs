//! The two-way fields of a mapped entity (docs/two-way.md), keyed the way
//! the field diff names them (`tags`, `metafields[custom.material]`), so
//! [`mapsync_core::diff::two_way`] can classify a compiled document
//! against the target's current state; and, for a pulled field, the
//! source path its value is written to. Only an entity's own fields can
//! flow back (`validate` refuses the others: `two-way::field-unsupported`).

use std::collections::BTreeMap;

use mapsync_config::check::model::{EntityMapping, TargetSpec, ValueSource};
use mapsync_core::two_way::{Conflict, Policy, Side};
use mapsync_syntax::SourcePath;

/// One two-way field of an entity.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoWaySpec {
    /// The field's diff path.
    pub path: String,
    /// Where its value is in the record, and where a pull writes it.
    pub source: SourcePath,
    /// Its direction and conflict policy (`newest` and `resolved` unset:
    /// they are per item, [`policies`]).
    pub policy: Policy,
}

/// The entity's fields flowing `to_source` or `both`, in mapping order.
pub fn specs(entity: &EntityMapping) -> Vec<TwoWaySpec> {
    entity
        .fields
        .iter()
        .filter(|f| f.direction.is_two_way())
        .filter_map(|f| {
            let path = match &f.target {
                TargetSpec::Field { name, .. } => name.clone(),
                TargetSpec::Metafield { namespace, key, .. } => {
                    format!("metafields[{namespace}.{key}]")
                }
                _ => return None,
            };
            let ValueSource::Path(source) = &f.value.source else {
                return None;
            };
            Some(TwoWaySpec {
                path,
                source: source.clone(),
                policy: Policy {
                    direction: f.direction,
                    conflict: f.conflict,
                    newest: None,
                    resolved: None,
                },
            })
        })
        .collect()
}

/// The policies of one item's two-way fields by diff path: the entity's,
/// with the side edited last (`newest`, from the entity's `updated_at`)
/// for its `newest` fields and the `mapsync resolve` choices recorded for
/// the item (`resolved`, by diff path).
pub fn policies(
    specs: &[TwoWaySpec],
    newest: Option<Side>,
    resolved: &BTreeMap<String, Side>,
) -> BTreeMap<String, Policy> {
    specs
        .iter()
        .map(|s| {
            let mut p = s.policy;
            if p.conflict == Conflict::Newest {
                p.newest = newest;
            }
            p.resolved = resolved.get(&s.path).copied();
            (s.path.clone(), p)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapsync_config::check::fields::FieldType;
    use mapsync_config::check::model::{FieldMapping, ValueSpec, Writeback};
    use mapsync_config::metafield;
    use mapsync_core::two_way::Direction;
    use mapsync_core::Entity;

    fn field(
        target: TargetSpec,
        from: &str,
        direction: Direction,
        conflict: Conflict,
    ) -> FieldMapping {
        FieldMapping {
            target,
            value: ValueSpec {
                source: ValueSource::Path(mapsync_syntax::parse_path(from).unwrap()),
                default: None,
                transforms: Vec::new(),
            },
            location: None,
            direction,
            conflict,
            direction_at: None,
            conflict_at: None,
        }
    }

    fn entity(fields: Vec<FieldMapping>) -> EntityMapping {
        EntityMapping {
            kind: Entity::Product,
            key: mapsync_syntax::parse_path("ItemNo").unwrap(),
            select: None,
            mode: None,
            published: None,
            categories: None,
            keep_deleted_metafields: false,
            writeback: Writeback::default(),
            fields,
            images: Vec::new(),
            option_names: Vec::new(),
            variants: None,
            matching: None,
            updated_at: None,
        }
    }

    #[test]
    fn two_way_fields_by_diff_path_with_per_item_policies() {
        let text = |name: &str| TargetSpec::Field {
            name: name.into(),
            ty: FieldType::Text,
        };
        let e = entity(vec![
            field(
                text("title"),
                "Name",
                Direction::ToTarget,
                Conflict::SourceWins,
            ),
            field(text("tags"), "Tags", Direction::Both, Conflict::Newest),
            field(text("vendor"), "Brand", Direction::Both, Conflict::Manual),
            field(
                TargetSpec::Metafield {
                    namespace: "custom".into(),
                    key: "url".into(),
                    ty: metafield::Type::DEFAULT,
                },
                "ShopUrl",
                Direction::ToSource,
                Conflict::SourceWins,
            ),
        ]);
        let specs = specs(&e);
        let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["tags", "vendor", "metafields[custom.url]"]);
        assert_eq!(specs[2].source.display(), "ShopUrl");
        let resolved = BTreeMap::from([("vendor".to_string(), Side::Target)]);
        let p = policies(&specs, Some(Side::Target), &resolved);
        assert_eq!(p["tags"].newest, Some(Side::Target));
        assert_eq!(p["tags"].resolved, None);
        assert_eq!(p["vendor"].newest, None);
        assert_eq!(p["vendor"].resolved, Some(Side::Target));
        assert_eq!(p["metafields[custom.url]"].direction, Direction::ToSource);
    }
}
