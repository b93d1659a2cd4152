//! The two-way fields of a mapped entity (docs/two-way.md), keyed the way
//! the field diff names them (`tags`, `metafields[custom.material]`), so
//! [`mapsync_core::diff::two_way`] can classify a compiled document
//! against the target's current state; and, for a pulled field, the
//! source path its value is written to. Only an entity's own fields can
//! flow back (`validate` refuses the others: `two-way::field-unsupported`).

use std::collections::BTreeMap;

use mapsync_config::check::model::{EntityMapping, TargetSpec, ValueSource};
use mapsync_core::diff::{Taken, TwoWayField};
use mapsync_core::two_way::{Action, Conflict, Policy, Side};
use mapsync_core::Entity;

use crate::reconcile::{self, Change, PlanDiagnostic, TwoWayEntry};
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
    /// What adding its target value to a document that lacks it needs.
    pub taken: Taken,
}

/// The entity's fields flowing `to_source` or `both`, in mapping order.
pub fn specs(entity: &EntityMapping) -> Vec<TwoWaySpec> {
    // The entity's metafields in declaration order, as `ns.key`.
    let declared: Vec<String> = entity
        .fields
        .iter()
        .filter_map(|f| match &f.target {
            TargetSpec::Metafield { namespace, key, .. } => Some(format!("{namespace}.{key}")),
            _ => None,
        })
        .collect();
    entity
        .fields
        .iter()
        .filter(|f| f.direction.is_two_way())
        .filter_map(|f| {
            let (path, taken) = match &f.target {
                TargetSpec::Field { name, .. } => (name.clone(), Taken::default()),
                TargetSpec::Metafield { namespace, key, ty } => {
                    let name = format!("{namespace}.{key}");
                    let at = declared.iter().position(|d| *d == name).unwrap_or(0);
                    (
                        format!("metafields[{name}]"),
                        Taken {
                            path: String::new(),
                            metafield_type: Some(ty.type_name()),
                            declared_before: declared[..at].to_vec(),
                        },
                    )
                }
                _ => return None,
            };
            let ValueSource::Path(source) = &f.value.source else {
                return None;
            };
            Some(TwoWaySpec {
                taken: Taken {
                    path: path.clone(),
                    ..taken
                },
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

/// The side edited last for `conflict: newest`, from the record's
/// updated-at (the compiled document's `control.updated_at`) and the
/// target item's (its reduced read's), both RFC 3339 or seconds since
/// 1970; `None` when either is missing or not a date.
pub fn newest_side(source: Option<&str>, target: Option<&str>) -> Option<Side> {
    mapsync_core::two_way::newest(source.and_then(seconds), target.and_then(seconds))
}

/// An instant as seconds since 1970: RFC 3339, a date, or a number
/// (milliseconds when that big).
pub fn seconds(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Some(if n.abs() >= 100_000_000_000 {
            n / 1000
        } else {
            n
        });
    }
    if let Ok(at) = time::OffsetDateTime::parse(t, &Rfc3339) {
        return Some(at.unix_timestamp());
    }
    let date = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(t, &date)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp())
}

/// The run's last word on an item's classified fields: a field flowing
/// `to_source` that was never synced and holds the same value on both
/// sides (both empty, say) is pulled once, so that its synced value is
/// known and the item is not read again for it.
pub fn settle(found: &mut [TwoWayField], synced: &mapsync_core::diff::FieldHashes) {
    use mapsync_core::two_way::{Direction, FieldState};
    for f in found {
        if f.direction == Direction::ToSource
            && f.action == Action::None
            && f.state == FieldState::ChangedInBothSame
            && !synced.contains_key(&mapsync_core::diff::field_key(&f.field))
        {
            f.action = Action::Pull;
        }
    }
}

/// Puts an item's classified two-way fields on its change and lets them
/// decide it: a field held by a `manual` conflict (or a `newest` one
/// without both dates) makes the item `invalid` with
/// `two-way::conflict` — nothing is written on either side until
/// `mapsync resolve` picks one —; an unchanged item with a field to pull
/// becomes an update (its target write then has nothing to send).
pub fn attach(
    change: &mut Change,
    fields: Vec<TwoWayField>,
    specs: &[TwoWaySpec],
    policies: &BTreeMap<String, Policy>,
) {
    use reconcile::Action as A;
    change.two_way = fields
        .into_iter()
        .filter_map(|f| {
            let spec = specs.iter().find(|s| s.path == f.field)?;
            let resolved = policies.get(&f.field).and_then(|p| p.resolved);
            Some(TwoWayEntry {
                source_path: spec.source.display(),
                resolved: (f.state == mapsync_core::two_way::FieldState::Conflict)
                    .then_some(resolved)
                    .flatten(),
                metafield_type: spec.taken.metafield_type.clone(),
                declared_before: spec.taken.declared_before.clone(),
                field: f.field,
                direction: f.direction,
                state: f.state,
                action: f.action,
                source: f.source,
                target: f.target,
            })
        })
        .collect();
    let held: Vec<&TwoWayEntry> = change
        .two_way
        .iter()
        .filter(|e| e.action == Action::Hold)
        .collect();
    if !held.is_empty() && matches!(change.action, A::Update | A::Unchanged) {
        let message = held
            .iter()
            .map(|e| e.describe_conflict())
            .collect::<Vec<_>>()
            .join("; ");
        let fields: Vec<&str> = held.iter().map(|e| e.field.as_str()).collect();
        let key = change.key.clone().unwrap_or_default();
        change.diagnostics.push(PlanDiagnostic {
            severity: "error".into(),
            code: mapsync_core::diag::codes::TWO_WAY_CONFLICT.name.into(),
            message: format!("{message}; the item is held: nothing is written on either side"),
            help: Some(format!(
                "pick a side for each field: `mapsync resolve {key} {} --take source|target`",
                fields.first().copied().unwrap_or_default()
            )),
        });
        change.action = A::Invalid;
        change.rule = match change.entity {
            Entity::Category => "category.two-way.held".into(),
            Entity::Product => "product.two-way.held".into(),
        };
        change.reason = "held: a field changed on both sides and no policy decides it".into();
        change.diff.clear();
        return;
    }
    if change.action == A::Unchanged && change.pulls().next().is_some() {
        change.action = A::Update;
        change.rule = match change.entity {
            Entity::Category => "category.update.pulled".into(),
            Entity::Product => "product.update.pulled".into(),
        };
        change.reason = "the target holds values the source lacks (edited or made in the target): they go back to the source".into();
    }
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

    #[test]
    fn instants_and_the_side_edited_last() {
        for (text, want) in [
            ("2026-01-15T09:00:00Z", Some(1_768_467_600)),
            ("2026-01-15T10:00:00+01:00", Some(1_768_467_600)),
            ("2026-01-15", Some(1_768_435_200)),
            ("1768467600", Some(1_768_467_600)),
            ("1768467600000", Some(1_768_467_600)),
            ("yesterday", None),
            ("", None),
        ] {
            assert_eq!(seconds(text), want, "{text}");
        }
        let (early, late) = (Some("2026-01-01T00:00:00Z"), Some("2026-02-01T00:00:00Z"));
        assert_eq!(newest_side(late, early), Some(Side::Source));
        assert_eq!(newest_side(early, late), Some(Side::Target));
        // Ties go to the source; a date missing or not a date: nobody knows.
        assert_eq!(newest_side(early, early), Some(Side::Source));
        assert_eq!(newest_side(None, late), None);
        assert_eq!(newest_side(Some("soon"), late), None);
    }

    /// What the classified fields make of a change: a pull turns an
    /// unchanged item into an update, a hold makes it invalid with
    /// `two-way::conflict` (and nothing to write), a field flowing
    /// `to_source` never synced and equal on both sides is pulled once.
    #[test]
    fn classified_fields_decide_the_change() {
        use mapsync_core::diff::{field_hash, field_key, FieldHashes};
        use mapsync_core::two_way::FieldState;
        use serde_json::json;
        let text = |name: &str| TargetSpec::Field {
            name: name.into(),
            ty: FieldType::Text,
        };
        let e = entity(vec![
            field(text("vendor"), "Brand", Direction::Both, Conflict::Manual),
            field(
                text("handle"),
                "ShopHandle",
                Direction::ToSource,
                Conflict::SourceWins,
            ),
        ]);
        let specs = specs(&e);
        let change = |action| Change {
            entity: Entity::Product,
            key: Some("P-1".into()),
            target_id: Some("T-1".into()),
            action,
            rule: "product.update.up-to-date".into(),
            reason: "up to date".into(),
            diff: Vec::new(),
            diagnostics: Vec::new(),
            drift: Vec::new(),
            two_way: Vec::new(),
        };
        let field_of = |path: &str, state, action, source: serde_json::Value, target| TwoWayField {
            field: path.into(),
            direction: specs
                .iter()
                .find(|s| s.path == path)
                .unwrap()
                .policy
                .direction,
            state,
            action,
            source,
            target,
        };
        let policies = policies(&specs, None, &BTreeMap::new());

        let mut c = change(reconcile::Action::Unchanged);
        let pulled = vec![field_of(
            "handle",
            FieldState::Conflict,
            Action::Pull,
            json!(null),
            json!("tee"),
        )];
        attach(&mut c, pulled, &specs, &policies);
        assert_eq!(c.action, reconcile::Action::Update);
        assert_eq!(c.rule, "product.update.pulled");
        assert_eq!(c.taken_fields()[0].path, "handle");
        assert_eq!(c.two_way[0].source_path, "ShopHandle");

        let mut c = change(reconcile::Action::Update);
        let held = vec![field_of(
            "vendor",
            FieldState::Conflict,
            Action::Hold,
            json!("A"),
            json!("B"),
        )];
        attach(&mut c, held, &specs, &policies);
        assert_eq!(c.action, reconcile::Action::Invalid);
        assert_eq!(c.rule, "product.two-way.held");
        assert_eq!(c.diagnostics[0].code, "two-way::conflict");
        assert!(
            c.diagnostics[0]
                .message
                .starts_with("vendor changed on both sides: source \"A\", target \"B\""),
            "{}",
            c.diagnostics[0].message
        );
        assert!(c.diagnostics[0]
            .help
            .as_deref()
            .unwrap()
            .contains("mapsync resolve P-1 vendor"));

        // Both empty, never synced: pulled once; synced already: nothing.
        let mut found = vec![field_of(
            "handle",
            FieldState::ChangedInBothSame,
            Action::None,
            json!(null),
            json!(null),
        )];
        settle(&mut found, &FieldHashes::new());
        assert_eq!(found[0].action, Action::Pull);
        let synced = FieldHashes::from([(field_key("handle"), field_hash(&json!(null)))]);
        let mut found = vec![field_of(
            "handle",
            FieldState::Unchanged,
            Action::None,
            json!(null),
            json!(null),
        )];
        settle(&mut found, &synced);
        assert_eq!(found[0].action, Action::None);
    }
}
