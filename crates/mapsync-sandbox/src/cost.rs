//! Calculated query cost as Shopify computes it: scalars and enums 0, each
//! object 1, a connection `2 + first × (cost of one node)`, a mutation 10
//! plus what its payload selects — in API 2026-04 `productSet` and
//! `metafieldsSet` cost more with their input ([`Pricing::Dynamic`]). The requested cost is computed from the
//! document before execution; the actual cost from the response data
//! (connections count the nodes they returned). Type information comes from
//! an introspection of the sandbox's own schema. Must not execute anything.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Name, Variables};
use serde_json::Value;

/// Cost of a mutation field before what it selects.
pub const MUTATION_COST: u64 = 10;
/// The single-query limit.
pub const MAX_COST: u64 = 1000;

/// How mutation fields are priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pricing {
    /// Every mutation field costs [`MUTATION_COST`] (API 2025-01).
    Flat,
    /// `productSet` and `metafieldsSet` cost by their input (Shopify's
    /// dynamic complexity, API 2025-10 and later; the sandbox's 2026-04).
    Dynamic,
}

/// `productSet`'s dynamic cost: `10 + 0.2 per variant + 0.6 per variant
/// file + 0.4 per variant metafield + 0.4 per product metafield + 1.9 per
/// product file`, rounded to the nearest point (halves up).
pub fn product_set_cost(input: &async_graphql::Value) -> u64 {
    let variants = items(field(input, "variants"));
    let variant_files = variants
        .iter()
        .filter(|v| field(v, "file").is_some_and(|f| *f != async_graphql::Value::Null))
        .count();
    let variant_metafields: usize = variants
        .iter()
        .map(|v| items(field(v, "metafields")).len())
        .sum();
    let product_metafields = items(field(input, "metafields")).len();
    let product_files = items(field(input, "files")).len();
    let tenths = 10 * MUTATION_COST as usize
        + 2 * variants.len()
        + 6 * variant_files
        + 4 * variant_metafields
        + 4 * product_metafields
        + 19 * product_files;
    ((tenths + 5) / 10) as u64
}

/// `metafieldsSet`'s dynamic cost: 10 plus, per distinct owner, the weight
/// of its type (order 10, product 4, variant 2, collection, customer and
/// shop 1, others 0).
pub fn metafields_set_cost(metafields: &async_graphql::Value) -> u64 {
    let mut owners: Vec<&str> = items(Some(metafields))
        .iter()
        .filter_map(|m| match field(m, "ownerId") {
            Some(async_graphql::Value::String(s)) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    owners.sort_unstable();
    owners.dedup();
    let weight = |gid: &str| match gid
        .strip_prefix("gid://shopify/")
        .and_then(|r| r.split('/').next())
    {
        Some("Order") => 10,
        Some("Product") => 4,
        Some("ProductVariant") => 2,
        Some("Collection" | "Customer" | "Shop") => 1,
        _ => 0,
    };
    MUTATION_COST + owners.into_iter().map(weight).sum::<u64>()
}

fn field<'v>(v: &'v async_graphql::Value, name: &str) -> Option<&'v async_graphql::Value> {
    match v {
        async_graphql::Value::Object(o) => o.get(name),
        _ => None,
    }
}

/// The items of a list input (a single value counts as a list of one).
fn items(v: Option<&async_graphql::Value>) -> Vec<&async_graphql::Value> {
    match v {
        None | Some(async_graphql::Value::Null) => Vec::new(),
        Some(async_graphql::Value::List(l)) => l.iter().collect(),
        Some(other) => vec![other],
    }
}

#[derive(Debug, Clone)]
struct FieldInfo {
    ty: String,
    list: bool,
}

#[derive(Debug, Clone, Default)]
struct TypeInfo {
    composite: bool,
    fields: HashMap<String, FieldInfo>,
}

/// Field types of a schema, from its introspection.
#[derive(Debug, Clone, Default)]
pub struct TypeMap {
    types: HashMap<String, TypeInfo>,
    query: String,
    mutation: String,
}

fn unwrap_type(t: &Value) -> (String, bool) {
    let mut list = false;
    let mut cur = t;
    loop {
        match cur.get("kind").and_then(Value::as_str) {
            Some("NON_NULL") => cur = &cur["ofType"],
            Some("LIST") => {
                list = true;
                cur = &cur["ofType"];
            }
            _ => {
                return (
                    cur.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    list,
                )
            }
        }
    }
}

impl TypeMap {
    /// Build from introspection JSON (`{"__schema": ...}` or `{"data": {"__schema": ...}}`).
    pub fn from_introspection(json: &Value) -> Self {
        let schema = json
            .get("data")
            .unwrap_or(json)
            .get("__schema")
            .unwrap_or(&Value::Null);
        let mut types = HashMap::new();
        for t in schema
            .get("types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let kind = t.get("kind").and_then(Value::as_str).unwrap_or_default();
            let composite = matches!(kind, "OBJECT" | "INTERFACE" | "UNION");
            let mut fields = HashMap::new();
            for f in t
                .get("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let fname = f
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let (ty, list) = unwrap_type(&f["type"]);
                fields.insert(fname, FieldInfo { ty, list });
            }
            types.insert(name, TypeInfo { composite, fields });
        }
        let root = |k: &str| {
            schema
                .get(k)
                .and_then(|t| t.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        TypeMap {
            types,
            query: root("queryType"),
            mutation: root("mutationType"),
        }
    }

    fn field(&self, ty: &str, name: &str) -> Option<&FieldInfo> {
        self.types.get(ty)?.fields.get(name)
    }

    /// Whether `name` is a field of the query or the mutation root.
    pub fn is_root_field(&self, name: &str) -> bool {
        self.field(&self.query, name).is_some() || self.field(&self.mutation, name).is_some()
    }

    fn composite(&self, ty: &str) -> bool {
        self.types.get(ty).is_some_and(|t| t.composite)
    }
}

/// The operation a request runs, with its cost.
#[derive(Debug, Clone)]
pub struct Costed {
    pub requested: u64,
    pub mutation: bool,
    /// Root field names (for statistics).
    pub root_fields: Vec<String>,
}

struct Walker<'a> {
    types: &'a TypeMap,
    doc: &'a ExecutableDocument,
    op: &'a OperationDefinition,
    vars: &'a Variables,
    pricing: Pricing,
}

/// Pick the operation of a document.
pub fn operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(m), Some(n)) => m.get(n).map(|o| &o.node),
        (DocumentOperations::Multiple(m), None) if m.len() == 1 => {
            m.values().next().map(|o| &o.node)
        }
        _ => None,
    }
}

/// Requested cost of the chosen operation.
pub fn requested(
    types: &TypeMap,
    doc: &ExecutableDocument,
    name: Option<&str>,
    vars: &Variables,
    pricing: Pricing,
) -> Option<Costed> {
    let op = operation(doc, name)?;
    let w = Walker {
        types,
        doc,
        op,
        vars,
        pricing,
    };
    let mutation = op.ty == OperationType::Mutation;
    let root = if mutation {
        &types.mutation
    } else {
        &types.query
    };
    let mut root_fields = Vec::new();
    let mut total = 0u64;
    for (_, f) in w.fields(root, &op.selection_set.node) {
        let fname = f.name.node.as_str();
        root_fields.push(fname.to_string());
        if mutation {
            let payload = types
                .field(root, fname)
                .map(|i| i.ty.clone())
                .unwrap_or_default();
            total += w.mutation_cost(f) + w.selection(&payload, &f.selection_set.node);
        } else {
            total += w.field_cost(root, f);
        }
    }
    Some(Costed {
        requested: total,
        mutation,
        root_fields,
    })
}

/// Actual cost of an executed operation, from its response data.
pub fn actual(
    types: &TypeMap,
    doc: &ExecutableDocument,
    name: Option<&str>,
    vars: &Variables,
    data: &Value,
    pricing: Pricing,
) -> u64 {
    let Some(op) = operation(doc, name) else {
        return 0;
    };
    let w = Walker {
        types,
        doc,
        op,
        vars,
        pricing,
    };
    let mutation = op.ty == OperationType::Mutation;
    let root = if mutation {
        &types.mutation
    } else {
        &types.query
    };
    let mut total = 0u64;
    for (_, f) in w.fields(root, &op.selection_set.node) {
        let key = f
            .alias
            .as_ref()
            .map(|a| a.node.as_str())
            .unwrap_or(f.name.node.as_str());
        let v = data.get(key).unwrap_or(&Value::Null);
        if mutation {
            let payload = types
                .field(root, f.name.node.as_str())
                .map(|i| i.ty.clone())
                .unwrap_or_default();
            total += w.mutation_cost(f) + w.actual_selection(&payload, &f.selection_set.node, v);
        } else {
            total += w.actual_field(root, f, v);
        }
    }
    total
}

type Field = async_graphql::parser::types::Field;

impl<'a> Walker<'a> {
    /// The cost of a mutation field before what it selects.
    fn mutation_cost(&self, f: &Field) -> u64 {
        if self.pricing == Pricing::Flat {
            return MUTATION_COST;
        }
        match f.name.node.as_str() {
            "productSet" => self
                .arg(f, "input")
                .map_or(MUTATION_COST, |i| product_set_cost(&i)),
            "metafieldsSet" => self
                .arg(f, "metafields")
                .map_or(MUTATION_COST, |m| metafields_set_cost(&m)),
            _ => MUTATION_COST,
        }
    }

    /// Fields of a selection set with fragments expanded; each paired with
    /// the type it applies to.
    fn fields(&self, ty: &str, set: &'a SelectionSet) -> Vec<(String, &'a Field)> {
        let mut out = Vec::new();
        self.collect(ty, set, &mut out, 0);
        out
    }

    fn collect(
        &self,
        ty: &str,
        set: &'a SelectionSet,
        out: &mut Vec<(String, &'a Field)>,
        depth: usize,
    ) {
        if depth > 30 {
            return;
        }
        for sel in &set.items {
            match &sel.node {
                Selection::Field(f) => out.push((ty.to_string(), &f.node)),
                Selection::InlineFragment(fr) => {
                    let on = fr
                        .node
                        .type_condition
                        .as_ref()
                        .map(|t| t.node.on.node.to_string())
                        .unwrap_or_else(|| ty.to_string());
                    self.collect(&on, &fr.node.selection_set.node, out, depth + 1);
                }
                Selection::FragmentSpread(sp) => {
                    if let Some(def) = self.doc.fragments.get(&sp.node.fragment_name.node) {
                        let on = def.node.type_condition.node.on.node.to_string();
                        self.collect(&on, &def.node.selection_set.node, out, depth + 1);
                    }
                }
            }
        }
    }

    fn arg(&self, f: &Field, name: &str) -> Option<async_graphql::Value> {
        let v = f.get_argument(name)?;
        v.node
            .clone()
            .into_const_with(|n| self.var(&n).ok_or(()))
            .ok()
    }

    fn arg_int(&self, f: &Field, name: &str) -> Option<u64> {
        match self.arg(f, name)? {
            async_graphql::Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    fn arg_list_len(&self, f: &Field, name: &str) -> Option<u64> {
        match self.arg(f, name)? {
            async_graphql::Value::List(l) => Some(l.len() as u64),
            _ => Some(1),
        }
    }

    fn var(&self, name: &Name) -> Option<async_graphql::Value> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        self.op
            .variable_definitions
            .iter()
            .find(|d| d.node.name.node == *name)
            .and_then(|d| d.node.default_value.as_ref().map(|v| v.node.clone()))
    }

    /// Group field costs: fields of the current type add up; fragments on
    /// other types (interfaces, unions) count their most expensive branch.
    fn sum_by_type(&self, ty: &str, parts: Vec<(String, u64)>) -> u64 {
        let mut base = 0;
        let mut branches: HashMap<String, u64> = HashMap::new();
        for (on, c) in parts {
            if on == ty {
                base += c;
            } else {
                *branches.entry(on).or_default() += c;
            }
        }
        base + branches.values().copied().max().unwrap_or(0)
    }

    fn selection(&self, ty: &str, set: &'a SelectionSet) -> u64 {
        let parts = self
            .fields(ty, set)
            .into_iter()
            .map(|(on, f)| {
                let c = self.field_cost(&on, f);
                (on, c)
            })
            .collect();
        self.sum_by_type(ty, parts)
    }

    fn field_cost(&self, ty: &str, f: &'a Field) -> u64 {
        let name = f.name.node.as_str();
        if name.starts_with("__") {
            return 0;
        }
        let Some(info) = self.types.field(ty, name) else {
            return 0;
        };
        if !self.types.composite(&info.ty) {
            return 0;
        }
        let set = &f.selection_set.node;
        if info.ty.ends_with("Connection") {
            let n = self
                .arg_int(f, "first")
                .or_else(|| self.arg_int(f, "last"))
                .unwrap_or(0);
            return 2 + n * self.node_cost(&info.ty, set);
        }
        let mult = if info.list {
            self.arg_int(f, "first")
                .or_else(|| self.arg_list_len(f, "ids"))
                .unwrap_or(1)
        } else {
            1
        };
        mult * (1 + self.selection(&info.ty, set))
    }

    /// Cost of one node of a connection selection (`edges { node }`, `nodes`).
    fn node_cost(&self, conn: &str, set: &'a SelectionSet) -> u64 {
        let mut cost = 0;
        for (on, f) in self.fields(conn, set) {
            let Some(info) = self.types.field(&on, f.name.node.as_str()) else {
                continue;
            };
            match f.name.node.as_str() {
                "edges" => {
                    for (eon, ef) in self.fields(&info.ty, &f.selection_set.node) {
                        if ef.name.node.as_str() == "node" {
                            if let Some(ni) = self.types.field(&eon, "node") {
                                cost += 1 + self.selection(&ni.ty, &ef.selection_set.node);
                            }
                        }
                    }
                }
                "nodes" => cost += 1 + self.selection(&info.ty, &f.selection_set.node),
                _ => {}
            }
        }
        cost
    }

    fn actual_selection(&self, ty: &str, set: &'a SelectionSet, v: &Value) -> u64 {
        if v.is_null() {
            return 0;
        }
        let parts = self
            .fields(ty, set)
            .into_iter()
            .map(|(on, f)| {
                let key = f
                    .alias
                    .as_ref()
                    .map(|a| a.node.as_str())
                    .unwrap_or(f.name.node.as_str());
                let c = match v.get(key) {
                    Some(fv) => self.actual_field(&on, f, fv),
                    None => 0,
                };
                (on, c)
            })
            .collect();
        self.sum_by_type(ty, parts)
    }

    fn actual_field(&self, ty: &str, f: &'a Field, v: &Value) -> u64 {
        let name = f.name.node.as_str();
        let Some(info) = self.types.field(ty, name) else {
            return 0;
        };
        if !self.types.composite(&info.ty) || v.is_null() {
            return 0;
        }
        let set = &f.selection_set.node;
        if info.ty.ends_with("Connection") {
            let mut cost = 2;
            for (on, cf) in self.fields(&info.ty, set) {
                let key = cf
                    .alias
                    .as_ref()
                    .map(|a| a.node.as_str())
                    .unwrap_or(cf.name.node.as_str());
                let Some(ci) = self.types.field(&on, cf.name.node.as_str()) else {
                    continue;
                };
                let items: &[Value] = v
                    .get(key)
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                match cf.name.node.as_str() {
                    "edges" => {
                        for (eon, ef) in self.fields(&ci.ty, &cf.selection_set.node) {
                            if ef.name.node.as_str() != "node" {
                                continue;
                            }
                            let nkey = ef.alias.as_ref().map(|a| a.node.as_str()).unwrap_or("node");
                            let Some(ni) = self.types.field(&eon, "node") else {
                                continue;
                            };
                            for e in items {
                                let n = e.get(nkey).unwrap_or(&Value::Null);
                                if !n.is_null() {
                                    cost += 1 + self.actual_selection(
                                        &ni.ty,
                                        &ef.selection_set.node,
                                        n,
                                    );
                                }
                            }
                        }
                    }
                    "nodes" => {
                        for n in items.iter().filter(|n| !n.is_null()) {
                            cost += 1 + self.actual_selection(&ci.ty, &cf.selection_set.node, n);
                        }
                    }
                    _ => {}
                }
            }
            return cost;
        }
        match v {
            Value::Array(items) => {
                let sum: u64 = items
                    .iter()
                    .filter(|x| !x.is_null())
                    .map(|x| 1 + self.actual_selection(&info.ty, set, x))
                    .sum();
                // Lists without `first` are charged as one object when requested.
                sum.min(self.field_cost(ty, f))
            }
            _ => 1 + self.actual_selection(&info.ty, set, v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(json: serde_json::Value) -> async_graphql::Value {
        async_graphql::Value::from_json(json).unwrap()
    }

    fn product(variants: usize, files: usize, metafields: usize) -> async_graphql::Value {
        let mf = serde_json::json!({"namespace": "custom", "key": "k", "value": "v"});
        value(serde_json::json!({
            "title": "T",
            "variants": vec![serde_json::json!({"optionValues": []}); variants],
            "files": vec![serde_json::json!({"originalSource": "https://x/y.png"}); files],
            "metafields": vec![mf; metafields],
        }))
    }

    #[test]
    fn product_set_costs_as_shopify_documents_it() {
        // The examples of Shopify's changelog (API 2025-10).
        assert_eq!(product_set_cost(&product(1, 0, 0)), 10);
        assert_eq!(product_set_cost(&product(20, 0, 5)), 16);
        assert_eq!(product_set_cost(&product(200, 10, 20)), 77);
        // Variant files and metafields; halves round up.
        let v = value(serde_json::json!({"variants": [
            {"file": {"originalSource": "https://x/a.png"}, "metafields": [{"key": "a"}, {"key": "b"}]},
            {"file": null}
        ]}));
        assert_eq!(product_set_cost(&v), 12); // 10 + 0.4 + 0.6 + 0.8 = 11.8
        assert_eq!(product_set_cost(&product(3, 0, 0)), 11); // 10.6
        assert_eq!(product_set_cost(&product(0, 0, 0)), 10);
    }

    #[test]
    fn metafields_set_costs_per_distinct_owner() {
        let v = value(serde_json::json!([
            {"ownerId": "gid://shopify/Product/1", "key": "a", "value": "1"},
            {"ownerId": "gid://shopify/Product/1", "key": "b", "value": "1"},
            {"ownerId": "gid://shopify/ProductVariant/2", "key": "a", "value": "1"},
            {"ownerId": "gid://shopify/Collection/3", "key": "a", "value": "1"},
            {"ownerId": "gid://shopify/Location/4", "key": "a", "value": "1"}
        ]));
        assert_eq!(metafields_set_cost(&v), 10 + 4 + 2 + 1);
    }
}
