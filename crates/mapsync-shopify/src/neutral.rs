//! Shopify's current state in the neutral shape the engine compares
//! (`mapsync_core::current`), and Shopify's comparison rules: tags are a
//! set, enums are upper-cased by the write, SEO title and description are
//! the `global.title_tag` / `global.description_tag` metafields, a weight
//! without a unit is written in kilograms. The wire-shaped [`model`]
//! values ride along as the [`Native`] the write side reads.
//!
//! [`model`]: crate::model

use std::collections::BTreeMap;

use mapsync_core::current::{CompareRules, Current, CurrentMetafield, CurrentVariant, Native};
use mapsync_core::Entity;
use serde_json::Value;

use crate::model::{Collection, Metafield, Product, Variant};
use crate::version::DEFAULT_WEIGHT_UNIT;

/// How Shopify's values compare with desired ones.
pub const COMPARE_RULES: CompareRules = CompareRules {
    // Shopify keeps tags sorted and deduplicated: a set.
    set_fields: &["tags"],
    // The write leaves these alone when the desired value is empty.
    not_cleared: &[
        "gift_card",
        "taxable",
        "inventory_policy",
        "inventory_item.requires_shipping",
        "inventory_item.province_code_of_origin",
        "inventory_item.weight",
        "inventory_item.weight_unit",
    ],
    // Enums the write upper-cases.
    upper_case: &[
        "inventory_policy",
        "inventory_item.weight_unit",
        "inventory_item.province_code_of_origin",
    ],
    // mapping-format.md §5: the SEO fields as metafields.
    metafield_fields: &[
        ("global", "title_tag", "seo.title"),
        ("global", "description_tag", "seo.description"),
    ],
    implied: &[(
        "inventory_item.weight",
        "inventory_item.weight_unit",
        DEFAULT_WEIGHT_UNIT,
    )],
};

fn text(s: &str) -> Value {
    Value::String(s.to_string())
}

fn opt(s: &Option<String>) -> Value {
    s.clone().map(Value::String).unwrap_or(Value::Null)
}

fn metafields(list: &[Metafield]) -> Vec<CurrentMetafield> {
    list.iter()
        .map(|m| CurrentMetafield {
            namespace: m.namespace.clone(),
            key: m.key.clone(),
            value: m.value.clone(),
        })
        .collect()
}

/// A product, neutral; the product itself rides along as the native view.
pub fn product(p: Product) -> Current {
    let mut fields = BTreeMap::new();
    fields.insert("title".into(), text(&p.title));
    fields.insert("handle".into(), text(&p.handle));
    fields.insert("body_html".into(), text(&p.body_html));
    fields.insert("description_html".into(), text(&p.body_html));
    fields.insert("vendor".into(), text(&p.vendor));
    fields.insert("product_type".into(), text(&p.product_type));
    fields.insert(
        "tags".into(),
        Value::Array(p.tags.iter().map(|t| text(t)).collect()),
    );
    fields.insert("status".into(), text(&p.status));
    fields.insert("seo.title".into(), opt(&p.seo.title));
    fields.insert("seo.description".into(), opt(&p.seo.description));
    fields.insert("template_suffix".into(), opt(&p.template_suffix));
    fields.insert("online_store_url".into(), opt(&p.online_store_url));
    fields.insert("gift_card".into(), Value::Bool(p.gift_card));
    // An uploaded embedded image is its content key (its file is named
    // `mapsync-<key>.<ext>`); one the store failed to process is not
    // listed, so the next write gives it again.
    let images = p
        .media
        .iter()
        .filter(|m| m.content_type == "IMAGE" && !m.failed())
        .filter_map(|m| match m.embedded_key() {
            Some(key) => Some(mapsync_core::image::diff_value(key)),
            None => m.original_source.clone().or_else(|| m.url.clone()),
        })
        .collect();
    Current {
        entity: Entity::Product,
        id: p.id.clone(),
        marker: p.marker().map(str::to_string),
        fields,
        metafields: metafields(&p.metafields),
        images,
        variants: p.variants.iter().map(variant).collect(),
        categories: p.collections.clone(),
        native: Native::new(p),
    }
}

/// A variant, neutral.
pub fn variant(t: &Variant) -> CurrentVariant {
    let mut fields = BTreeMap::new();
    fields.insert("sku".into(), opt(&t.sku));
    fields.insert("price".into(), text(&t.price));
    fields.insert("compare_at_price".into(), opt(&t.compare_at_price));
    fields.insert("barcode".into(), opt(&t.barcode));
    fields.insert("taxable".into(), Value::Bool(t.taxable));
    fields.insert("inventory_policy".into(), text(&t.inventory_policy));
    let inv = t.inventory_item.as_ref();
    let mut inv_field = |name: &str, value: Option<Value>| {
        fields.insert(
            format!("inventory_item.{name}"),
            value.unwrap_or(Value::Null),
        );
    };
    inv_field(
        "cost",
        inv.and_then(|i| i.unit_cost.as_ref())
            .map(|m| text(&m.amount)),
    );
    inv_field("tracked", inv.map(|i| Value::Bool(i.tracked)));
    inv_field(
        "country_code_of_origin",
        inv.map(|i| opt(&i.country_code_of_origin)),
    );
    inv_field(
        "harmonized_system_code",
        inv.map(|i| opt(&i.harmonized_system_code)),
    );
    inv_field(
        "requires_shipping",
        inv.map(|i| Value::Bool(i.requires_shipping)),
    );
    inv_field(
        "province_code_of_origin",
        inv.map(|i| opt(&i.province_code_of_origin)),
    );
    inv_field(
        "weight",
        inv.and_then(|i| i.weight.as_ref()).map(|w| text(&w.value)),
    );
    inv_field(
        "weight_unit",
        inv.and_then(|i| i.weight.as_ref()).map(|w| text(&w.unit)),
    );
    let quantities = t
        .inventory_levels
        .iter()
        .filter_map(|l| {
            l.quantities
                .get("available")
                .map(|q| (l.location_id.clone(), *q))
        })
        .collect();
    CurrentVariant {
        id: t.id.clone(),
        title: t.title.clone(),
        sku: t.sku.clone(),
        options: t
            .selected_options
            .iter()
            .map(|o| (o.name.clone(), o.value.clone()))
            .collect(),
        fields,
        quantities,
        metafields: metafields(&t.metafields),
    }
}

/// A custom collection, neutral (a category).
pub fn collection(c: Collection) -> Current {
    let mut fields = BTreeMap::new();
    fields.insert("title".into(), text(&c.title));
    fields.insert("handle".into(), text(&c.handle));
    fields.insert("body_html".into(), text(&c.description_html));
    fields.insert("description_html".into(), text(&c.description_html));
    fields.insert("sort_order".into(), text(&c.sort_order));
    fields.insert("template_suffix".into(), opt(&c.template_suffix));
    fields.insert("seo.title".into(), opt(&c.seo.title));
    fields.insert("seo.description".into(), opt(&c.seo.description));
    Current {
        entity: Entity::Category,
        id: c.id.clone(),
        marker: c.marker().map(str::to_string),
        fields,
        metafields: metafields(&c.metafields),
        // An uploaded embedded image is its content key.
        images: c
            .image
            .iter()
            .map(|i| match mapsync_core::image::key_in_url(&i.url) {
                Some(key) => mapsync_core::image::diff_value(key),
                None => i.url.clone(),
            })
            .collect(),
        variants: Vec::new(),
        categories: Vec::new(),
        native: Native::new(c),
    }
}

#[cfg(test)]
mod tests {
    //! Shopify's read-back values through the conversion and the rules:
    //! the neutral diff finds no difference where Shopify only spells a
    //! value another way.
    use super::*;
    use crate::model::{InventoryItem, Seo, Weight};
    use mapsync_core::diff::{diff_product, LocationsByRefName};
    use mapsync_core::document::Document;
    use serde_json::json;

    fn current() -> Product {
        Product {
            id: "gid://shopify/Product/1".into(),
            handle: "card".into(),
            title: "Card".into(),
            body_html: String::new(),
            vendor: String::new(),
            product_type: String::new(),
            tags: vec![],
            status: "ACTIVE".into(),
            template_suffix: Some("gift".into()),
            gift_card: true,
            online_store_url: None,
            updated_at: None,
            seo: Seo::default(),
            options: vec![],
            variants: vec![Variant {
                id: "gid://shopify/ProductVariant/2".into(),
                title: "Default Title".into(),
                position: Some(1),
                sku: Some("C-1".into()),
                price: "25.00".into(),
                compare_at_price: None,
                barcode: None,
                taxable: false,
                inventory_policy: "CONTINUE".into(),
                selected_options: vec![],
                inventory_item: Some(InventoryItem {
                    id: "gid://shopify/InventoryItem/3".into(),
                    sku: Some("C-1".into()),
                    unit_cost: None,
                    tracked: true,
                    country_code_of_origin: None,
                    harmonized_system_code: None,
                    requires_shipping: false,
                    province_code_of_origin: Some("ON".into()),
                    weight: Some(Weight {
                        value: "0.2".into(),
                        unit: "KILOGRAMS".into(),
                    }),
                }),
                inventory_levels: vec![],
                metafields: vec![],
            }],
            media: vec![],
            metafields: vec![],
            collections: vec![],
        }
    }

    fn doc(fields: Value, variant: Value) -> Document {
        serde_json::from_value(json!({
            "entity": "product", "key": "C", "fields": fields,
            "metafields": [], "metafield_descriptions": [], "images": [], "options": [],
            "categories": [],
            "variants": [{"key": "C-1", "fields": variant, "options": [], "quantities": {},
                          "metafields": []}]
        }))
        .unwrap()
    }

    fn paths(d: &Document) -> Vec<String> {
        diff_product(
            d,
            &product(current()),
            &LocationsByRefName::new(),
            &COMPARE_RULES,
        )
        .into_iter()
        .map(|e| e.path)
        .collect()
    }

    #[test]
    fn read_back_fields_equal_in_another_spelling_are_no_change() {
        let d = doc(
            json!({"template_suffix": "gift", "gift_card": true}),
            json!({"sku": "C-1", "price": "25", "taxable": false, "inventory_policy": "continue",
                   "inventory_item.requires_shipping": false,
                   "inventory_item.province_code_of_origin": "on",
                   "inventory_item.weight": "0.20"}),
        );
        assert_eq!(paths(&d), Vec::<String>::new());
    }

    #[test]
    fn empty_values_of_fields_the_write_does_not_clear_are_no_change() {
        let d = doc(
            json!({"gift_card": null}),
            json!({"sku": "C-1", "taxable": null, "inventory_policy": "",
                   "inventory_item.weight": null, "inventory_item.weight_unit": ""}),
        );
        assert_eq!(paths(&d), Vec::<String>::new());
    }

    #[test]
    fn each_read_back_field_that_differs_is_a_change() {
        let d = doc(
            json!({"template_suffix": "", "gift_card": false}),
            json!({"sku": "C-1", "taxable": true, "inventory_policy": "DENY",
                   "inventory_item.requires_shipping": true,
                   "inventory_item.province_code_of_origin": "QC",
                   "inventory_item.weight": "200", "inventory_item.weight_unit": "GRAMS"}),
        );
        let v = "variants[C-1]";
        let mut want = vec![
            "template_suffix".to_string(),
            "gift_card".into(),
            format!("{v}.taxable"),
            format!("{v}.inventory_policy"),
            format!("{v}.inventory_item.requires_shipping"),
            format!("{v}.inventory_item.province_code_of_origin"),
            format!("{v}.inventory_item.weight"),
            format!("{v}.inventory_item.weight_unit"),
        ];
        let mut got = paths(&d);
        want.sort();
        got.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn a_weight_without_unit_is_compared_in_the_default_unit() {
        let d = doc(
            json!({}),
            json!({"sku": "C-1", "inventory_item.weight": "0.2"}),
        );
        assert_eq!(paths(&d), Vec::<String>::new());
        let mut grams = current();
        if let Some(Some(item)) = grams
            .variants
            .first_mut()
            .map(|v| v.inventory_item.as_mut())
        {
            item.weight = Some(Weight {
                value: "0.2".into(),
                unit: "GRAMS".into(),
            });
        }
        let entries = diff_product(
            &d,
            &product(grams),
            &LocationsByRefName::new(),
            &COMPARE_RULES,
        );
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, "variants[C-1].inventory_item.weight_unit");
        assert_eq!(entries[0].before, json!("GRAMS"));
        assert_eq!(entries[0].after, json!("KILOGRAMS"));
    }
}
