//! The business rules of the sandbox's mutations, applied to a draft
//! [`Store`]: `productSet` list replacement, options/variants/media limits,
//! unique handles, collection membership, metafield checks, inventory.
//! Each function either changes the draft and returns what the payload needs,
//! or returns `userErrors` (the caller then drops the draft, so nothing is
//! half-applied). Must not do I/O or know about HTTP.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_graphql::{MaybeUndefined, ID};

use super::gql::errors::{
    plain, InventorySetQuantitiesUserErrorCode as InvCode,
    MetafieldDefinitionCreateUserErrorCode as DefCode,
    MetafieldDefinitionUpdateUserErrorCode as DefUpdCode, MetafieldsSetUserErrorCode as MsCode,
    NoCode, ProductSetUserErrorCode as PsCode, UserErr,
};
use super::gql::inputs::*;
use super::model::{
    gid, now, Collection, Found, Image, InventoryItem, InventoryLevel, InventoryPolicy, Media,
    MediaFailure, MediaState, Metafield, MetafieldDefinition, OptionValue, Product, ProductOption,
    Status, Store, Variant,
};
use super::{staged, unique, validate};

/// Most options a product can have.
pub const MAX_OPTIONS: usize = 3;
/// Most variants a product can have.
pub const MAX_VARIANTS: usize = 2048;
/// Most media a product can have.
pub const MAX_MEDIA: usize = 250;
/// Most metafields one `metafieldsSet` call takes.
pub const MAX_METAFIELDS_SET: usize = 25;

fn next(counter: &mut u64) -> u64 {
    let id = *counter;
    *counter += 1;
    id
}

fn path<S: AsRef<str>>(base: &[S], more: &[String]) -> Vec<String> {
    base.iter()
        .map(|s| s.as_ref().to_string())
        .chain(more.iter().cloned())
        .collect()
}

/// Who owns a metafield.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Product(u64),
    Variant { product: u64, variant: u64 },
    Collection(u64),
    Shop,
}

impl Owner {
    /// The `MetafieldOwnerType` name of the owner.
    pub fn owner_type(self) -> &'static str {
        match self {
            Owner::Product(_) => "PRODUCT",
            Owner::Variant { .. } => "PRODUCTVARIANT",
            Owner::Collection(_) => "COLLECTION",
            Owner::Shop => "SHOP",
        }
    }

    /// The global id of the owner.
    pub fn gid(self, st: &Store) -> String {
        match self {
            Owner::Product(p) => gid("Product", p),
            Owner::Variant { variant, .. } => gid("ProductVariant", variant),
            Owner::Collection(c) => gid("Collection", c),
            Owner::Shop => gid("Shop", st.shop.id),
        }
    }

    /// The owner a global id names, if it can own metafields here.
    pub fn of(st: &Store, id: &str) -> Option<Owner> {
        match st.find(id)? {
            Found::Product(p) => Some(Owner::Product(p)),
            Found::Variant { product, variant } => Some(Owner::Variant { product, variant }),
            Found::Collection(c) => Some(Owner::Collection(c)),
            Found::Shop => Some(Owner::Shop),
            _ => None,
        }
    }
}

/// The metafields of an owner, read-only.
pub fn metafields_of(st: &Store, owner: Owner) -> &[Metafield] {
    match owner {
        Owner::Product(p) => st.products.get(&p).map(|p| p.metafields.as_slice()),
        Owner::Variant { product, variant } => st
            .products
            .get(&product)
            .and_then(|p| p.variants.iter().find(|v| v.id == variant))
            .map(|v| v.metafields.as_slice()),
        Owner::Collection(c) => st.collections.get(&c).map(|c| c.metafields.as_slice()),
        Owner::Shop => Some(st.shop.metafields.as_slice()),
    }
    .unwrap_or(&[])
}

fn metafields_of_mut(st: &mut Store, owner: Owner) -> Option<(&mut Vec<Metafield>, &mut u64)> {
    let counter = &mut st.next_id;
    let list = match owner {
        Owner::Product(p) => &mut Arc::make_mut(st.products.get_mut(&p)?).metafields,
        Owner::Variant { product, variant } => {
            &mut Arc::make_mut(st.products.get_mut(&product)?)
                .variants
                .iter_mut()
                .find(|v| v.id == variant)?
                .metafields
        }
        Owner::Collection(c) => &mut Arc::make_mut(st.collections.get_mut(&c)?).metafields,
        Owner::Shop => &mut st.shop.metafields,
    };
    Some((list, counter))
}

/// A checked metafield ready to be written.
#[derive(Debug, Clone)]
pub struct MfEntry {
    pub namespace: String,
    pub key: String,
    pub type_name: String,
    pub value: String,
}

/// Check one metafield (namespace, key, type, value); errors carry a field
/// suffix (`namespace`, `key`, `type`, `value`) and a message.
fn check_metafield(
    st: &Store,
    owner_type: &str,
    namespace: Option<&str>,
    key: Option<&str>,
    type_name: Option<&str>,
    value: Option<&str>,
    existing_type: Option<&str>,
) -> Result<MfEntry, (&'static str, String, MsCode)> {
    let raw_ns = namespace;
    let namespace = validate::resolve_namespace(namespace);
    if raw_ns.is_some_and(|n| !n.starts_with("$app")) {
        validate::check_namespace(&namespace)
            .map_err(|m| ("namespace", m, MsCode::InvalidValue))?;
    }
    let key = key.ok_or(("key", "Key can't be blank".to_string(), MsCode::Blank))?;
    validate::check_key(key).map_err(|m| ("key", m, MsCode::InvalidValue))?;
    let def_type = st
        .metafield_definitions
        .values()
        .find(|d| d.owner_type == owner_type && d.namespace == namespace && d.key == key)
        .map(|d| d.type_name.as_str());
    let type_name = match (type_name, def_type, existing_type) {
        (Some(t), Some(d), _) if t != d => {
            return Err((
                "type",
                format!("Type must be '{d}', the type of the metafield definition"),
                MsCode::InvalidType,
            ))
        }
        (Some(t), _, _) => t,
        (None, Some(d), _) => d,
        (None, None, Some(e)) => e,
        (None, None, None) => return Err(("type", "Type can't be blank".into(), MsCode::Blank)),
    };
    if !validate::is_known_type(type_name) {
        return Err((
            "type",
            format!("Type '{type_name}' is not a valid metafield type"),
            MsCode::InvalidType,
        ));
    }
    let value = value.ok_or(("value", "Value can't be blank".to_string(), MsCode::Blank))?;
    validate::check_value(type_name, value, &|g| st.find(g).is_some())
        .map_err(|m| ("value", m, MsCode::InvalidValue))?;
    Ok(MfEntry {
        namespace,
        key: key.to_string(),
        type_name: type_name.to_string(),
        value: value.to_string(),
    })
}

/// Check a list of `MetafieldInput`s for one owner (productSet, collections).
fn check_metafield_inputs(
    st: &Store,
    owner_type: &str,
    current: &[Metafield],
    inputs: &[MetafieldInput],
    base: &[String],
) -> Result<Vec<MfEntry>, Vec<(Vec<String>, String)>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for (i, m) in inputs.iter().enumerate() {
        let here: Vec<String> = base.iter().cloned().chain([i.to_string()]).collect();
        let by_id = m.id.as_ref().and_then(|id| {
            current
                .iter()
                .find(|c| gid("Metafield", c.id) == id.as_str())
        });
        let ns = m
            .namespace
            .as_deref()
            .or(by_id.map(|c| c.namespace.as_str()));
        let key = m.key.as_deref().or(by_id.map(|c| c.key.as_str()));
        let existing_type = current
            .iter()
            .find(|c| Some(c.namespace.as_str()) == ns && Some(c.key.as_str()) == key)
            .map(|c| c.type_name.as_str());
        match check_metafield(
            st,
            owner_type,
            ns,
            key,
            m.type_name.as_deref(),
            m.value.as_deref(),
            existing_type,
        ) {
            Ok(e) => {
                if !seen.insert((e.namespace.clone(), e.key.clone())) {
                    errs.push((
                        here,
                        format!("Metafield {}.{} is given twice", e.namespace, e.key),
                    ));
                } else {
                    out.push(e);
                }
            }
            Err((f, msg, _)) => errs.push((here.into_iter().chain([f.to_string()]).collect(), msg)),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// Write checked metafields into a list; `replace` drops the ones not given.
fn write_metafields(
    list: &mut Vec<Metafield>,
    counter: &mut u64,
    entries: Vec<MfEntry>,
    replace: bool,
) {
    let now = now();
    if replace {
        list.retain(|m| {
            entries
                .iter()
                .any(|e| e.namespace == m.namespace && e.key == m.key)
        });
    }
    for e in entries {
        match list
            .iter_mut()
            .find(|m| m.namespace == e.namespace && m.key == e.key)
        {
            Some(m) => {
                if m.value != e.value || m.type_name != e.type_name {
                    m.value = e.value;
                    m.type_name = e.type_name;
                    m.updated_at = now.clone();
                }
            }
            None => list.push(Metafield {
                id: next(counter),
                namespace: e.namespace,
                key: e.key,
                type_name: e.type_name,
                value: e.value,
                created_at: now.clone(),
                updated_at: now.clone(),
            }),
        }
    }
}

/// The compare digest of a metafield (changes whenever its value does).
pub fn compare_digest(m: &Metafield) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [&m.namespace, &m.key, &m.type_name, &m.value, &m.updated_at] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn find_product(st: &Store, id: &str) -> Option<u64> {
    match st.find(id)? {
        Found::Product(p) => Some(p),
        _ => None,
    }
}

fn find_collection(st: &Store, id: &str) -> Option<u64> {
    match st.find(id)? {
        Found::Collection(c) => Some(c),
        _ => None,
    }
}

/// Make `product` a member of exactly the `wanted` collections. A product
/// is a member when its `collections` has the collection (the mirror of
/// `Collection::products`), so joining appends without a scan of the
/// members; leaving looks the product up among them.
fn set_membership(st: &mut Store, product: &mut Product, wanted: &[u64]) {
    let current: Vec<u64> = product.collections.iter().copied().collect();
    for c in current.iter().filter(|c| !wanted.contains(c)) {
        if let Some(col) = st.collections.get_mut(c) {
            remove_member(Arc::make_mut(col), product.id);
        }
        product.collections.remove(c);
    }
    for c in wanted.iter().filter(|c| !current.contains(c)) {
        if let Some(col) = st.collections.get_mut(c) {
            Arc::make_mut(col).products.push_back(product.id);
            product.collections.insert(*c);
        }
    }
}

/// Drop a product from a collection's members.
fn remove_member(col: &mut Collection, product: u64) {
    if let Some(i) = col.products.index_of(&product) {
        col.products.remove(i);
    }
}

fn new_variant(st: &mut Store, option_values: Vec<String>) -> Variant {
    let now = now();
    let id = st.alloc();
    let item = st.alloc();
    let mut levels = BTreeMap::new();
    if let Some(loc) = st.primary_location() {
        levels.insert(
            loc,
            InventoryLevel {
                id: st.alloc(),
                available: 0,
                on_hand: 0,
                updated_at: now.clone(),
            },
        );
    }
    Variant {
        id,
        sku: None,
        barcode: None,
        price: "0.00".into(),
        compare_at_price: None,
        taxable: true,
        inventory_policy: InventoryPolicy::Deny,
        option_values,
        media_ids: Vec::new(),
        metafields: Vec::new(),
        inventory_item: InventoryItem {
            id: item,
            tracked: false,
            cost: None,
            country_code_of_origin: None,
            harmonized_system_code: None,
            requires_shipping: true,
            province_code_of_origin: None,
            weight: None,
            levels,
            created_at: now.clone(),
            updated_at: now.clone(),
        },
        created_at: now.clone(),
        updated_at: now,
    }
}

fn status_of(s: ProductStatus) -> Status {
    match s {
        ProductStatus::Active => Status::Active,
        ProductStatus::Archived => Status::Archived,
        ProductStatus::Draft => Status::Draft,
    }
}

fn content_type(t: Option<FileContentType>) -> &'static str {
    match t {
        Some(FileContentType::Video) => "VIDEO",
        Some(FileContentType::ExternalVideo) => "EXTERNAL_VIDEO",
        Some(FileContentType::Model3d) => "MODEL_3D",
        _ => "IMAGE",
    }
}

type PsErr = UserErr<PsCode>;

/// How `productSet` names the product it writes.
#[derive(Debug, Clone, Copy)]
pub enum ProductSetTarget<'a> {
    /// Neither an identifier nor an id: create a product.
    Create,
    /// 2025-01's `input.id`: replace that product.
    InputId(&'a ID),
    /// 2026-04's `identifier`: update the product it finds, else create one
    /// (an `id` must exist).
    Identifier(&'a ProductSetIdentifiers),
}

/// What `productSet`'s target resolves to.
struct Resolved<'a> {
    /// A copy of the product to replace; `None` creates one.
    existing: Option<Product>,
    /// The handle the identifier names (the handle of a new product).
    handle: Option<&'a str>,
    /// The custom id metafield a new product must carry.
    custom_id: Option<MfEntry>,
}

/// How `productSet` treats the quantities of existing variants.
#[derive(Debug, Clone, Copy)]
pub struct ProductSetRules {
    /// An existing variant (named by `id`) takes `inventoryQuantities` only
    /// at locations where it is already stocked (2026-04, as the
    /// description of `ProductVariantSetInput.inventoryQuantities` says);
    /// otherwise a quantity stocks the variant at its location.
    pub stocked_quantities_only: bool,
}

/// `productSet` in API 2026-04.
pub const PRODUCT_SET_2026_04: ProductSetRules = ProductSetRules {
    stocked_quantities_only: true,
};

/// `productSet` in API 2025-01.
pub const PRODUCT_SET_2025_01: ProductSetRules = ProductSetRules {
    stocked_quantities_only: false,
};

/// `productSet`: create or replace a product; returns its id.
pub fn product_set(
    st: &mut Store,
    input: &ProductSetInput,
    target: ProductSetTarget<'_>,
    rules: &ProductSetRules,
) -> Result<u64, Vec<PsErr>> {
    let now = now();
    let resolved = product_set_target(st, input, target)?;
    let creating = resolved.existing.is_none();
    let mut p = match resolved.existing {
        Some(p) => p,
        None => blank_product(st, &now),
    };
    let mut errs = set_product_scalars(&mut p, input, creating);
    check_options_with_variants(input, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }

    // Media first: variants may point at it.
    if let Some(files) = &input.files {
        if files.len() > MAX_MEDIA {
            return Err(vec![too_many_media()]);
        }
        p.media = build_media(st, &p.media, files, &now, &mut errs);
    }

    if let Some(opts) = &input.product_options {
        if opts.len() > MAX_OPTIONS {
            return Err(vec![UserErr::new(
                &["input", "productOptions"],
                format!("Can only specify a maximum of {MAX_OPTIONS} options"),
                PsCode::OptionsOverLimit,
            )]);
        }
        let options = build_options(st, &p.options, opts, &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        p.options = options;
    }

    if let Some(vs) = &input.variants {
        if vs.len() > MAX_VARIANTS {
            return Err(vec![UserErr::new(
                &["input", "variants"],
                format!("Can only specify a maximum of {MAX_VARIANTS} variants"),
                PsCode::VariantsOverLimit,
            )]);
        }
        set_variants(st, &mut p, vs, rules, &now, &mut errs);
    } else if creating {
        set_default_variant(st, &mut p);
    }
    settle_media(&mut p, &mut errs);

    if let Some(mfs) = &input.metafields {
        set_product_metafields(st, &mut p, mfs, &mut errs);
    } else if let Some(e) = resolved.custom_id.filter(|_| creating) {
        write_metafields(&mut p.metafields, &mut st.next_id, vec![e], false);
    }
    let wanted_collections = input
        .collections
        .as_ref()
        .map(|cols| resolve_collections(st, cols, &mut errs));
    if !errs.is_empty() {
        return Err(errs);
    }

    let want = product_set_handle(&p, input.handle.as_deref().or(resolved.handle), creating);
    if creating || want != p.handle {
        let id = p.id;
        assign_product_handle(st, &mut p, id, &want);
    }
    if let Some(ids) = wanted_collections {
        set_membership(st, &mut p, &ids);
    }
    p.updated_at = now;
    let id = p.id;
    let held = product_set_held(input, &p, creating);
    st.products.insert(id, Arc::new(p));
    claim_unique(st, &held, PsCode::CapabilityViolation)?;
    Ok(id)
}

/// [`unique::claim`] with the clashes as coded user errors.
fn claim_unique<C: Copy>(
    st: &mut Store,
    held: &[unique::Held],
    code: C,
) -> Result<(), Vec<UserErr<C>>> {
    let clashes = unique::claim(st, held);
    if clashes.is_empty() {
        return Ok(());
    }
    Err(clashes
        .into_iter()
        .map(|(field, message)| UserErr {
            field,
            message,
            code: Some(code),
        })
        .collect())
}

/// The metafield values a `productSet` wrote (given in `metafields`, a
/// variant's `metafields`, or the custom id of a new product).
fn product_set_held(input: &ProductSetInput, p: &Product, creating: bool) -> Vec<unique::Held> {
    let field_of = |inputs: &[MetafieldInput], m: &Metafield, base: Vec<String>| {
        let i = inputs.iter().position(|x| {
            validate::resolve_namespace(x.namespace.as_deref()) == m.namespace
                && x.key.as_deref() == Some(m.key.as_str())
        });
        match i {
            Some(i) => path(&base, &[i.to_string(), "value".into()]),
            None => vec!["identifier".into(), "customId".into()],
        }
    };
    let hold = |owner: Owner, m: &Metafield, field: Vec<String>| unique::Held {
        owner,
        namespace: m.namespace.clone(),
        key: m.key.clone(),
        value: m.value.clone(),
        field,
    };
    let mut held = Vec::new();
    if input.metafields.is_some() || creating {
        let given = input.metafields.as_deref().unwrap_or_default();
        let base = vec!["input".to_string(), "metafields".into()];
        for m in &p.metafields {
            held.push(hold(
                Owner::Product(p.id),
                m,
                field_of(given, m, base.clone()),
            ));
        }
    }
    for (vi, (vin, v)) in input.variants.iter().flatten().zip(&p.variants).enumerate() {
        let Some(given) = &vin.metafields else {
            continue;
        };
        let base = path(
            &["input", "variants"],
            &[vi.to_string(), "metafields".into()],
        );
        let owner = Owner::Variant {
            product: p.id,
            variant: v.id,
        };
        for m in &v.metafields {
            held.push(hold(owner, m, field_of(given, m, base.clone())));
        }
    }
    held
}

/// Resolve `productSet`'s target: the product it replaces, if any.
fn product_set_target<'a>(
    st: &Store,
    input: &ProductSetInput,
    target: ProductSetTarget<'a>,
) -> Result<Resolved<'a>, Vec<PsErr>> {
    let existing = |p: u64| st.products.get(&p).map(|p| (**p).clone());
    let mut out = Resolved {
        existing: None,
        handle: None,
        custom_id: None,
    };
    match target {
        ProductSetTarget::Create => {}
        ProductSetTarget::InputId(id) => match find_product(st, id) {
            Some(p) => out.existing = existing(p),
            None => {
                return Err(vec![UserErr::new(
                    &["input", "id"],
                    "Product does not exist",
                    PsCode::ProductDoesNotExist,
                )])
            }
        },
        ProductSetTarget::Identifier(ident) => {
            let found = identified_product(st, input, ident, &mut out)?;
            out.existing = found.and_then(existing);
        }
    }
    Ok(out)
}

/// The product a 2026-04 `identifier` names (`None`: create one); fills
/// the handle or custom id a new product takes.
fn identified_product<'a>(
    st: &Store,
    input: &ProductSetInput,
    ident: &'a ProductSetIdentifiers,
    out: &mut Resolved<'a>,
) -> Result<Option<u64>, Vec<PsErr>> {
    let given = [
        ident.id.is_some(),
        ident.handle.is_some(),
        ident.custom_id.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(vec![UserErr::new(
            &["identifier"],
            "Exactly one of id, handle or customId must be given",
            PsCode::InvalidInput,
        )]);
    }
    if let Some(id) = &ident.id {
        return match find_product(st, id) {
            Some(p) => Ok(Some(p)),
            None => Err(vec![UserErr::new(
                &["identifier", "id"],
                "Resource matching the identifier was not found.",
                PsCode::NotFound,
            )]),
        };
    }
    if let Some(handle) = &ident.handle {
        if input.handle.as_deref().is_some_and(|h| h != handle) {
            return Err(vec![UserErr::new(
                &["input", "handle"],
                "The identifier value does not match the value of the corresponding field in the input.",
                PsCode::InputMismatch,
            )]);
        }
        out.handle = Some(handle);
        return Ok(st.product_handles.get(handle.as_str()).copied());
    }
    let Some(custom) = &ident.custom_id else {
        return Ok(None);
    };
    let entry = custom_id_entry(st, custom)?;
    check_custom_id_in_metafields(input, &entry)?;
    let found = unique::owner_of(st, "PRODUCT", &entry.namespace, &entry.key, &entry.value)
        .and_then(|g| find_product(st, &g));
    out.custom_id = Some(entry);
    Ok(found)
}

/// The metafield a `customId` names; its definition must have unique values.
fn custom_id_entry(st: &Store, c: &UniqueMetafieldValueInput) -> Result<MfEntry, Vec<PsErr>> {
    let namespace = validate::resolve_namespace(c.namespace.as_deref());
    let def = st
        .metafield_definitions
        .values()
        .find(|d| d.owner_type == "PRODUCT" && d.namespace == namespace && d.key == c.key);
    match def {
        Some(d) if d.has_unique_values() => Ok(MfEntry {
            namespace,
            key: c.key.clone(),
            type_name: d.type_name.clone(),
            value: c.value.clone(),
        }),
        _ => Err(vec![UserErr::new(
            &["identifier", "customId"],
            format!(
                "No product metafield definition with unique values for {namespace}.{}: \
                 a custom id needs a definition with the uniqueValues capability (or type id)",
                c.key
            ),
            PsCode::InvalidInput,
        )]),
    }
}

/// With a `customId`, the `metafields` given (if any) must carry its value.
fn check_custom_id_in_metafields(
    input: &ProductSetInput,
    entry: &MfEntry,
) -> Result<(), Vec<PsErr>> {
    let Some(mfs) = &input.metafields else {
        return Ok(());
    };
    let carried = mfs.iter().any(|m| {
        validate::resolve_namespace(m.namespace.as_deref()) == entry.namespace
            && m.key.as_deref() == Some(entry.key.as_str())
            && m.value.as_deref() == Some(entry.value.as_str())
    });
    if carried {
        Ok(())
    } else {
        Err(vec![UserErr::new(
            &["input", "metafields"],
            "The input argument `metafields` (if present) must contain the `customId` value.",
            PsCode::MetafieldMismatch,
        )])
    }
}

/// A new, empty product with a fresh id (no options, variants or media yet).
fn blank_product(st: &mut Store, now: &str) -> Product {
    Product {
        id: st.alloc(),
        handle: String::new(),
        title: String::new(),
        description_html: String::new(),
        vendor: String::new(),
        product_type: String::new(),
        tags: Vec::new(),
        status: Status::Active,
        seo_title: None,
        seo_description: None,
        template_suffix: None,
        gift_card: false,
        options: Vec::new(),
        variants: Vec::new(),
        media: Vec::new(),
        metafields: Vec::new(),
        collections: Default::default(),
        created_at: now.to_string(),
        updated_at: now.to_string(),
    }
}

/// Apply `productSet`'s scalar fields (title, texts, tags, SEO, status); returns the title error.
fn set_product_scalars(p: &mut Product, input: &ProductSetInput, creating: bool) -> Vec<PsErr> {
    let mut errs = Vec::new();
    match &input.title {
        Some(t) if t.trim().is_empty() => errs.push(UserErr::new(
            &["input", "title"],
            "Title can't be blank",
            PsCode::InvalidProduct,
        )),
        Some(t) => p.title = t.clone(),
        None if creating => errs.push(UserErr::new(
            &["input", "title"],
            "Title can't be blank",
            PsCode::InvalidProduct,
        )),
        None => {}
    }
    if let Some(v) = &input.description_html {
        p.description_html = v.clone();
    }
    if let Some(v) = &input.vendor {
        p.vendor = v.clone();
    }
    if let Some(v) = &input.product_type {
        p.product_type = v.clone();
    }
    if let Some(v) = &input.tags {
        let mut tags: Vec<String> = v
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        tags.sort();
        tags.dedup();
        p.tags = tags;
    }
    if let Some(v) = &input.template_suffix {
        p.template_suffix = Some(v.clone()).filter(|s| !s.is_empty());
    }
    if let Some(seo) = &input.seo {
        set_seo(&mut p.seo_title, &mut p.seo_description, seo);
    }
    if let Some(s) = input.status {
        p.status = status_of(s);
    }
    if let Some(g) = input.gift_card {
        p.gift_card = g;
    }
    errs
}

/// Overwrite the SEO title and description that the input gives.
fn set_seo(title: &mut Option<String>, description: &mut Option<String>, seo: &SeoInput) {
    if seo.title.is_some() {
        *title = seo.title.clone();
    }
    if seo.description.is_some() {
        *description = seo.description.clone();
    }
}

/// `productOptions` and `variants` must be given together.
fn check_options_with_variants(input: &ProductSetInput, errs: &mut Vec<PsErr>) {
    match (&input.product_options, &input.variants) {
        (Some(_), None) => errs.push(UserErr::new(
            &["input", "variants"],
            "Variants input is required when updating product options",
            PsCode::VariantsInputMissing,
        )),
        (None, Some(_)) => errs.push(UserErr::new(
            &["input", "productOptions"],
            "Product options input is required when updating variants",
            PsCode::ProductOptionsInputMissing,
        )),
        _ => {}
    }
}

/// The error of a product with more than [`MAX_MEDIA`] media.
fn too_many_media() -> PsErr {
    UserErr::new(
        &["input", "files"],
        format!("Products can have at most {MAX_MEDIA} media"),
        PsCode::InvalidInput,
    )
}

/// The product's new media list from `files`: kept by id (alt updated) or created from a source.
fn build_media(
    st: &mut Store,
    current: &[Media],
    files: &[FileSetInput],
    now: &str,
    errs: &mut Vec<PsErr>,
) -> Vec<Media> {
    let mut media = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let here = path(&["input", "files"], &[i.to_string()]);
        if let Some(id) = &f.id {
            match current.iter().find(|m| media_gid(m) == id.as_str()) {
                Some(m) => {
                    let mut m = m.clone();
                    if f.alt.is_some() {
                        m.alt = f.alt.clone();
                    }
                    media.push(m);
                }
                None => errs.push(UserErr {
                    field: path(&here, &["id".into()]),
                    message: "File does not exist".into(),
                    code: Some(PsCode::InvalidInput),
                }),
            }
            continue;
        }
        match f.original_source.as_deref().map(str::trim) {
            Some(src) if !src.is_empty() => {
                match new_media(st, src, f.alt.clone(), content_type(f.content_type), now) {
                    Ok(m) => media.push(m),
                    Err(message) => errs.push(UserErr {
                        field: path(&here, &["originalSource".into()]),
                        message,
                        code: Some(PsCode::InvalidInput),
                    }),
                }
            }
            _ => errs.push(UserErr {
                field: path(&here, &["originalSource".into()]),
                message: "Original source can't be blank".into(),
                code: Some(PsCode::InvalidInput),
            }),
        }
    }
    media
}

/// The product's new options from `productOptions`, sorted by position.
fn build_options(
    st: &mut Store,
    current: &[ProductOption],
    opts: &[OptionSetInput],
    errs: &mut Vec<PsErr>,
) -> Vec<ProductOption> {
    let mut new_opts: Vec<(i32, ProductOption)> = Vec::new();
    for (i, o) in opts.iter().enumerate() {
        if let Some(opt) = build_option(st, current, &new_opts, i, o, errs) {
            new_opts.push(opt);
        }
    }
    new_opts.sort_by_key(|(pos, _)| *pos);
    new_opts.into_iter().map(|(_, o)| o).collect()
}

/// One option (with its position) from its input, matched to a current one by id or name.
fn build_option(
    st: &mut Store,
    current: &[ProductOption],
    taken: &[(i32, ProductOption)],
    i: usize,
    o: &OptionSetInput,
    errs: &mut Vec<PsErr>,
) -> Option<(i32, ProductOption)> {
    let here = path(&["input", "productOptions"], &[i.to_string()]);
    let old = current.iter().find(|x| {
        o.id.as_ref()
            .is_some_and(|id| gid("ProductOption", x.id) == id.as_str())
            || (o.id.is_none() && o.name.as_deref() == Some(x.name.as_str()))
    });
    if o.id.is_some() && old.is_none() {
        errs.push(UserErr {
            field: path(&here, &["id".into()]),
            message: "Option does not exist".into(),
            code: Some(PsCode::OptionDoesNotExist),
        });
        return None;
    }
    let name = o
        .name
        .clone()
        .or_else(|| old.map(|x| x.name.clone()))
        .unwrap_or_default();
    if name.trim().is_empty() {
        errs.push(UserErr {
            field: path(&here, &["name".into()]),
            message: "Option name can't be blank".into(),
            code: Some(PsCode::InvalidInput),
        });
        return None;
    }
    if taken
        .iter()
        .any(|(_, x)| x.name.eq_ignore_ascii_case(&name))
    {
        errs.push(UserErr {
            field: path(&here, &["name".into()]),
            message: format!("Option '{name}' already exists"),
            code: Some(PsCode::DuplicatedOptionName),
        });
        return None;
    }
    let values = o.values.as_deref().unwrap_or_default();
    if values.is_empty() {
        errs.push(UserErr {
            field: path(&here, &["values".into()]),
            message: format!("Option '{name}' must have at least one value"),
            code: Some(PsCode::OptionValuesMissing),
        });
        return None;
    }
    let values = build_option_values(st, old, values, &here, errs);
    let id = match old {
        Some(x) => x.id,
        None => st.alloc(),
    };
    let pos = o.position.unwrap_or(i as i32 + 1);
    Some((pos, ProductOption { id, name, values }))
}

/// An option's values from their inputs, keeping the ids of values matched by id or name.
fn build_option_values(
    st: &mut Store,
    old: Option<&ProductOption>,
    values: &[OptionValueSetInput],
    here: &[String],
    errs: &mut Vec<PsErr>,
) -> Vec<OptionValue> {
    let mut vals: Vec<OptionValue> = Vec::new();
    for (j, v) in values.iter().enumerate() {
        let old_v = old.and_then(|x| {
            x.values.iter().find(|ov| {
                v.id.as_ref()
                    .is_some_and(|id| gid("ProductOptionValue", ov.id) == id.as_str())
                    || (v.id.is_none() && v.name.as_deref() == Some(ov.name.as_str()))
            })
        });
        let vname = v
            .name
            .clone()
            .or_else(|| old_v.map(|x| x.name.clone()))
            .unwrap_or_default();
        let vhere = path(here, &["values".into(), j.to_string()]);
        if vname.trim().is_empty() {
            errs.push(UserErr {
                field: path(&vhere, &["name".into()]),
                message: "Option value name can't be blank".into(),
                code: Some(PsCode::OptionValueDoesNotExist),
            });
            continue;
        }
        if vals.iter().any(|x| x.name == vname) {
            errs.push(UserErr {
                field: vhere,
                message: format!("Duplicated option value '{vname}'"),
                code: Some(PsCode::DuplicatedOptionValue),
            });
            continue;
        }
        let id = match old_v {
            Some(x) => x.id,
            None => st.alloc(),
        };
        vals.push(OptionValue { id, name: vname });
    }
    vals
}

/// Replace the product's variants by `variants`, reusing current ones matched by id or option values.
fn set_variants(
    st: &mut Store,
    p: &mut Product,
    variants: &[ProductVariantSetInput],
    rules: &ProductSetRules,
    now: &str,
    errs: &mut Vec<PsErr>,
) {
    let mut old: Vec<Option<Variant>> = std::mem::take(&mut p.variants)
        .into_iter()
        .map(Some)
        .collect();
    let mut combos = HashSet::new();
    let mut out = Vec::with_capacity(variants.len());
    for (i, vin) in variants.iter().enumerate() {
        let here = path(&["input", "variants"], &[i.to_string()]);
        let Some(vals) = variant_option_values(&p.options, vin, &here, errs) else {
            continue;
        };
        if !combos.insert(vals.clone()) {
            errs.push(UserErr {
                field: path(&here, &["optionValues".into()]),
                message: format!("The variant '{}' already exists.", vals.join(" / ")),
                code: Some(PsCode::InvalidVariant),
            });
            continue;
        }
        let slot = match variant_slot(&old, vin, &vals, &here) {
            Ok(slot) => slot,
            Err(e) => {
                errs.push(e);
                continue;
            }
        };
        let mut v = match slot.and_then(|s| old.get_mut(s)).and_then(Option::take) {
            Some(v) => v,
            None => new_variant(st, vals.clone()),
        };
        if rules.stocked_quantities_only && vin.id.is_some() {
            let unstocked = unstocked_quantities(st, &v, vin, &here);
            if !unstocked.is_empty() {
                errs.extend(unstocked);
                continue;
            }
        }
        v.option_values = vals;
        if let Err(mut e) = fill_variant(st, &mut v, vin, &here, &mut p.media, now) {
            errs.append(&mut e);
            continue;
        }
        out.push(v);
    }
    p.variants = out;
}

/// The quantities of an existing variant's input at known locations where
/// the variant is not stocked (unknown locations are reported when the
/// quantities are written).
fn unstocked_quantities(
    st: &Store,
    v: &Variant,
    vin: &ProductVariantSetInput,
    here: &[String],
) -> Vec<PsErr> {
    let Some(qs) = &vin.inventory_quantities else {
        return Vec::new();
    };
    qs.iter()
        .enumerate()
        .filter_map(|(k, q)| {
            let Some(Found::Location(loc)) = st.find(&q.location_id) else {
                return None;
            };
            if v.inventory_item.levels.contains_key(&loc) {
                return None;
            }
            Some(UserErr {
                field: path(
                    here,
                    &[
                        "inventoryQuantities".into(),
                        k.to_string(),
                        "locationId".into(),
                    ],
                ),
                message: format!(
                    "The product variant is not stocked at the location {}. The quantities of \
                     an existing variant can only be updated at locations where it is stocked.",
                    q.location_id.as_str()
                ),
                code: Some(PsCode::InvalidVariant),
            })
        })
        .collect()
}

/// A variant's value names in option order; `None` (errors pushed) when one is missing or wrong.
fn variant_option_values(
    options: &[ProductOption],
    vin: &ProductVariantSetInput,
    here: &[String],
    errs: &mut Vec<PsErr>,
) -> Option<Vec<String>> {
    let mut vals: Vec<Option<String>> = vec![None; options.len()];
    let mut bad = false;
    for (j, ov) in vin.option_values.iter().enumerate() {
        let vhere = path(here, &["optionValues".into(), j.to_string()]);
        if let Err(e) = pick_option_value(options, ov, vhere, &mut vals) {
            errs.push(e);
            bad = true;
        }
    }
    if bad {
        return None;
    }
    let Some(vals) = vals.into_iter().collect::<Option<Vec<String>>>() else {
        errs.push(UserErr {
            field: path(here, &["optionValues".into()]),
            message: "Variant must have a value for each option".into(),
            code: Some(PsCode::InvalidVariant),
        });
        return None;
    };
    Some(vals)
}

/// Put one `optionValues` entry into its option's slot of `vals`.
fn pick_option_value(
    options: &[ProductOption],
    ov: &VariantOptionValueInput,
    vhere: Vec<String>,
    vals: &mut [Option<String>],
) -> Result<(), PsErr> {
    let oi = options.iter().position(|o| {
        ov.option_id
            .as_ref()
            .is_some_and(|id| gid("ProductOption", o.id) == id.as_str())
            || ov.option_name.as_deref() == Some(o.name.as_str())
    });
    let Some(oi) = oi else {
        return Err(UserErr {
            field: vhere,
            message: "Option does not exist".into(),
            code: Some(PsCode::OptionDoesNotExist),
        });
    };
    let opt = &options[oi];
    let value = opt.values.iter().find(|v| {
        ov.id
            .as_ref()
            .is_some_and(|id| gid("ProductOptionValue", v.id) == id.as_str())
            || ov.name.as_deref() == Some(v.name.as_str())
    });
    match value {
        Some(v) if vals[oi].is_none() => {
            vals[oi] = Some(v.name.clone());
            Ok(())
        }
        Some(_) => Err(UserErr {
            field: vhere,
            message: format!("Option '{}' is given twice", opt.name),
            code: Some(PsCode::InvalidVariant),
        }),
        None => Err(UserErr {
            field: vhere,
            message: format!(
                "Option value '{}' does not exist on option '{}'",
                ov.name.as_deref().unwrap_or_default(),
                opt.name
            ),
            code: Some(PsCode::OptionValueDoesNotExist),
        }),
    }
}

/// The index of the current variant a variant input replaces: by its id, else by option values.
fn variant_slot(
    old: &[Option<Variant>],
    vin: &ProductVariantSetInput,
    vals: &[String],
    here: &[String],
) -> Result<Option<usize>, PsErr> {
    match &vin.id {
        Some(id) => {
            let found = old.iter().position(|o| {
                o.as_ref()
                    .is_some_and(|v| gid("ProductVariant", v.id) == id.as_str())
            });
            if found.is_none() {
                return Err(UserErr {
                    field: path(here, &["id".into()]),
                    message: "Product variant does not exist".into(),
                    code: Some(PsCode::ProductVariantDoesNotExist),
                });
            }
            Ok(found)
        }
        None => Ok(old
            .iter()
            .position(|o| o.as_ref().is_some_and(|v| v.option_values == vals))),
    }
}

/// A new product without variants input gets the one "Default Title" variant.
fn set_default_variant(st: &mut Store, p: &mut Product) {
    if p.options.is_empty() {
        p.options = vec![ProductOption {
            id: st.alloc(),
            name: "Title".into(),
            values: vec![OptionValue {
                id: st.alloc(),
                name: "Default Title".into(),
            }],
        }];
    }
    p.variants = vec![new_variant(st, vec!["Default Title".into()])];
}

/// Check the media limit again (variant files add media) and unlink variants from media gone.
fn settle_media(p: &mut Product, errs: &mut Vec<PsErr>) {
    if p.media.len() > MAX_MEDIA {
        errs.push(too_many_media());
    }
    let media_ids: HashSet<u64> = p.media.iter().map(|m| m.id).collect();
    for v in &mut p.variants {
        v.media_ids.retain(|m| media_ids.contains(m));
    }
}

/// Replace the product's metafields by `metafields` (checked first).
fn set_product_metafields(
    st: &mut Store,
    p: &mut Product,
    mfs: &[MetafieldInput],
    errs: &mut Vec<PsErr>,
) {
    match check_metafield_inputs(
        st,
        "PRODUCT",
        &p.metafields,
        mfs,
        &["input".into(), "metafields".into()],
    ) {
        Ok(entries) => write_metafields(&mut p.metafields, &mut st.next_id, entries, true),
        Err(e) => errs.extend(e.into_iter().map(|(field, message)| UserErr {
            field,
            message,
            code: Some(PsCode::InvalidMetafield),
        })),
    }
}

/// The collection ids `productSet`'s `collections` name (errors for unknown ones).
fn resolve_collections(st: &Store, cols: &[ID], errs: &mut Vec<PsErr>) -> Vec<u64> {
    let mut ids = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        match find_collection(st, c) {
            Some(id) => ids.push(id),
            None => errs.push(UserErr {
                field: path(&["input", "collections"], &[i.to_string()]),
                message: format!("Collection {} does not exist", c.as_str()),
                code: Some(PsCode::InvalidInput),
            }),
        }
    }
    ids
}

/// The handle `productSet` wants before uniqueness: given, else from the title, else "product".
fn product_set_handle(p: &Product, handle: Option<&str>, creating: bool) -> String {
    let want = match handle {
        Some(h) => validate::handleize(h),
        None if creating => validate::handleize(&p.title),
        None => p.handle.clone(),
    };
    let want = if want.is_empty() {
        validate::handleize(&p.title)
    } else {
        want
    };
    if want.is_empty() {
        "product".to_string()
    } else {
        want
    }
}

/// Give product `id` a unique handle based on `want` and update the handle index.
fn assign_product_handle(st: &mut Store, p: &mut Product, id: u64, want: &str) {
    let handle = validate::unique_handle(want, &|h| {
        st.product_handles.get(h).is_some_and(|&o| o != id)
    });
    st.product_handles.remove(p.handle.as_str());
    st.product_handles.insert(Arc::from(handle.as_str()), id);
    p.handle = handle;
}

/// The message of an `originalSource` naming a staged upload that holds
/// no file (never made, not uploaded yet, or dropped): Shopify's
/// description of `FilesErrorCode.INVALID_IMAGE_SOURCE_URL`.
pub const BAD_STAGED_SOURCE: &str = "Invalid image source url value provided.";

/// New media from a source: an external URL is kept as given (ready at
/// once); a staged upload's `resourceUrl` starts processing (`UPLOADED`),
/// and fails later when an image's bytes are no PNG, JPEG, GIF or WEBP.
fn new_media(
    st: &mut Store,
    src: &str,
    alt: Option<String>,
    content_type: &str,
    now: &str,
) -> Result<Media, String> {
    let (status, failure, sha256) = match staged::token_of(src) {
        None => (MediaState::Ready, None, None),
        Some(token) => {
            let bytes = st
                .staged
                .get(token)
                .and_then(|t| t.bytes.clone())
                .ok_or_else(|| BAD_STAGED_SOURCE.to_string())?;
            use sha2::Digest;
            (
                MediaState::Uploaded,
                processing_failure(content_type, &bytes),
                Some(hex::encode(sha2::Sha256::digest(&**bytes))),
            )
        }
    };
    Ok(Media {
        id: st.alloc(),
        alt,
        original_source: src.to_string(),
        content_type: content_type.into(),
        created_at: now.to_string(),
        status,
        failure,
        sha256,
    })
}

/// Why processing a staged file as media fails: an image whose bytes are
/// no image the store decodes. Other content types are not checked.
fn processing_failure(content_type: &str, bytes: &[u8]) -> Option<MediaFailure> {
    if content_type != "IMAGE" || staged::image_format(bytes).is_some() {
        return None;
    }
    Some(MediaFailure {
        code: "IMAGE_PROCESSING_FAILURE".into(),
        message: "Image could not be processed.".into(),
        details: Some("The file is not a PNG, JPEG, GIF or WEBP image.".into()),
    })
}

/// The global id of a media item.
pub fn media_gid(m: &Media) -> String {
    let kind = match m.content_type.as_str() {
        "VIDEO" => "Video",
        "EXTERNAL_VIDEO" => "ExternalVideo",
        "MODEL_3D" => "Model3d",
        _ => "MediaImage",
    };
    gid(kind, m.id)
}

/// Apply one `ProductVariantSetInput` to a variant; `media` gains the variant's new file.
fn fill_variant(
    st: &mut Store,
    v: &mut Variant,
    vin: &ProductVariantSetInput,
    here: &[String],
    media: &mut Vec<Media>,
    now: &str,
) -> Result<(), Vec<PsErr>> {
    let mut errs = Vec::new();
    set_variant_scalars(v, vin);
    if let Some(ii) = &vin.inventory_item {
        set_inventory_item(&mut v.inventory_item, ii, here, now, &mut errs);
    }
    if let Some(qs) = &vin.inventory_quantities {
        set_variant_quantities(st, v, qs, here, now, &mut errs);
    }
    if let Some(mfs) = &vin.metafields {
        let base = path(here, &["metafields".into()]);
        match check_metafield_inputs(st, "PRODUCTVARIANT", &v.metafields, mfs, &base) {
            Ok(entries) => write_metafields(&mut v.metafields, &mut st.next_id, entries, true),
            Err(e) => errs.extend(e.into_iter().map(|(field, message)| UserErr {
                field,
                message,
                code: Some(PsCode::InvalidMetafield),
            })),
        }
    }
    if let Some(f) = &vin.file {
        if let Err(e) = attach_variant_file(st, v, f, here, media, now) {
            errs.push(e);
        }
    }
    v.updated_at = now.to_string();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// Apply a variant input's price, barcode, tax, inventory policy and SKU.
fn set_variant_scalars(v: &mut Variant, vin: &ProductVariantSetInput) {
    if let Some(x) = &vin.price {
        v.price = x.0.clone();
    }
    if let Some(x) = &vin.compare_at_price {
        v.compare_at_price = Some(x.0.clone());
    }
    if let Some(x) = &vin.barcode {
        v.barcode = Some(x.clone()).filter(|s| !s.is_empty());
    }
    if let Some(x) = vin.taxable {
        v.taxable = x;
    }
    if let Some(x) = vin.inventory_policy {
        v.inventory_policy = match x {
            ProductVariantInventoryPolicy::Deny => InventoryPolicy::Deny,
            ProductVariantInventoryPolicy::Continue => InventoryPolicy::Continue,
        };
    }
    let item_sku = vin.inventory_item.as_ref().and_then(|i| i.sku.clone());
    if let Some(sku) = vin.sku.clone().or(item_sku) {
        v.sku = Some(sku).filter(|s| !s.is_empty());
    }
}

/// Apply an `InventoryItemInput` (cost, tracking, origin, shipping, weight) to a variant's item.
fn set_inventory_item(
    item: &mut InventoryItem,
    ii: &InventoryItemInput,
    here: &[String],
    now: &str,
    errs: &mut Vec<PsErr>,
) {
    if let Some(c) = &ii.cost {
        item.cost = Some(c.0.clone());
    }
    if let Some(t) = ii.tracked {
        item.tracked = t;
    }
    if let Some(c) = ii.country_code_of_origin {
        item.country_code_of_origin = Some(c.as_str().to_string());
    }
    if let Some(h) = &ii.harmonized_system_code {
        item.harmonized_system_code = Some(h.clone()).filter(|s| !s.is_empty());
    }
    if let Some(r) = ii.requires_shipping {
        item.requires_shipping = r;
    }
    if let Some(p) = &ii.province_code_of_origin {
        item.province_code_of_origin = Some(p.clone()).filter(|s| !s.is_empty());
    }
    if let Some(w) = ii.measurement.as_ref().and_then(|m| m.weight.as_ref()) {
        if !w.value.is_finite() || w.value < 0.0 {
            errs.push(UserErr {
                field: path(
                    here,
                    &[
                        "inventoryItem".into(),
                        "measurement".into(),
                        "weight".into(),
                        "value".into(),
                    ],
                ),
                message: "Weight must be greater than or equal to 0".into(),
                code: Some(PsCode::InvalidInput),
            });
        } else {
            item.weight = Some((w.value, enum_name(&w.unit)));
        }
    }
    item.updated_at = now.to_string();
}

/// Set a variant's `inventoryQuantities` (available and on hand alike) per location.
fn set_variant_quantities(
    st: &mut Store,
    v: &mut Variant,
    qs: &[ProductSetInventoryInput],
    here: &[String],
    now: &str,
    errs: &mut Vec<PsErr>,
) {
    for (k, q) in qs.iter().enumerate() {
        let qhere = path(here, &["inventoryQuantities".into(), k.to_string()]);
        let loc = match st.find(&q.location_id) {
            Some(Found::Location(l)) => l,
            _ => {
                errs.push(UserErr {
                    field: path(&qhere, &["locationId".into()]),
                    message: format!("Location {} does not exist", q.location_id.as_str()),
                    code: Some(PsCode::InvalidInput),
                });
                continue;
            }
        };
        if q.name != "available" && q.name != "on_hand" {
            errs.push(UserErr {
                field: path(&qhere, &["name".into()]),
                message: "Name must be one of available, on_hand".into(),
                code: Some(PsCode::InvalidInput),
            });
            continue;
        }
        let level_id = match v.inventory_item.levels.get(&loc) {
            Some(l) => l.id,
            None => st.alloc(),
        };
        let level = v
            .inventory_item
            .levels
            .entry(loc)
            .or_insert_with(|| InventoryLevel {
                id: level_id,
                available: 0,
                on_hand: 0,
                updated_at: now.to_string(),
            });
        level.available = i64::from(q.quantity);
        level.on_hand = i64::from(q.quantity);
        level.updated_at = now.to_string();
    }
}

/// Point a variant at its `file`: existing media by id or source, else new media from the source.
fn attach_variant_file(
    st: &mut Store,
    v: &mut Variant,
    f: &FileSetInput,
    here: &[String],
    media: &mut Vec<Media>,
    now: &str,
) -> Result<(), PsErr> {
    let by_id =
        f.id.as_ref()
            .and_then(|id| media.iter().find(|m| media_gid(m) == id.as_str()));
    let by_src = f
        .original_source
        .as_deref()
        .and_then(|s| media.iter().find(|m| m.original_source == s.trim()));
    match (by_id, by_src, &f.id, f.original_source.as_deref()) {
        (Some(m), _, _, _) | (None, Some(m), None, _) => v.media_ids = vec![m.id],
        (None, None, None, Some(src)) if !src.trim().is_empty() => {
            let ct = content_type(f.content_type);
            let m =
                new_media(st, src.trim(), f.alt.clone(), ct, now).map_err(|message| UserErr {
                    field: path(here, &["file".into(), "originalSource".into()]),
                    message,
                    code: Some(PsCode::InvalidInput),
                })?;
            v.media_ids = vec![m.id];
            media.push(m);
        }
        _ => {
            return Err(UserErr {
                field: path(here, &["file".into()]),
                message: "File does not exist".into(),
                code: Some(PsCode::InvalidInput),
            })
        }
    }
    Ok(())
}

type Plain = UserErr<NoCode>;

fn apply_metafields_plain(
    st: &Store,
    owner_type: &str,
    current: &[Metafield],
    inputs: &[MetafieldInput],
    base: &str,
) -> Result<Vec<MfEntry>, Vec<Plain>> {
    check_metafield_inputs(st, owner_type, current, inputs, &[base.to_string()]).map_err(|e| {
        e.into_iter()
            .map(|(field, message)| UserErr {
                field,
                message,
                code: None,
            })
            .collect()
    })
}

/// `productUpdate`: change scalar fields, status, metafields (upsert),
/// collections to join/leave, and append media.
pub fn product_update(
    st: &mut Store,
    input: &ProductUpdateInput,
    media: Option<&[CreateMediaInput]>,
) -> Result<u64, Vec<Plain>> {
    let now = now();
    let Some(pid) = input.id.as_ref().and_then(|id| find_product(st, id)) else {
        return Err(vec![plain(&["id"], "Product does not exist")]);
    };
    let Some(mut p) = st.products.get(&pid).map(|p| (**p).clone()) else {
        return Err(vec![plain(&["id"], "Product does not exist")]);
    };
    update_product_scalars(&mut p, input)?;
    if let Some(mfs) = &input.metafields {
        let entries = apply_metafields_plain(st, "PRODUCT", &p.metafields, mfs, "metafields")?;
        write_metafields(&mut p.metafields, &mut st.next_id, entries, false);
    }
    if let Some(ms) = media {
        append_media(st, &mut p, ms, &now)?;
    }
    let wanted = collections_after_update(st, &p, input)?;
    set_membership(st, &mut p, &wanted);
    if let Some(h) = &input.handle {
        let want = validate::handleize(h);
        if !want.is_empty() && want != p.handle {
            assign_product_handle(st, &mut p, pid, &want);
        }
    }
    p.updated_at = now;
    let held: Vec<unique::Held> = input
        .metafields
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, m)| {
            let ns = validate::resolve_namespace(m.namespace.as_deref());
            let key = m.key.clone()?;
            let value = p
                .metafields
                .iter()
                .find(|x| x.namespace == ns && x.key == key)?
                .value
                .clone();
            Some(unique::Held {
                owner: Owner::Product(pid),
                namespace: ns,
                key,
                value,
                field: vec!["metafields".into(), i.to_string(), "value".into()],
            })
        })
        .collect();
    st.products.insert(pid, Arc::new(p));
    let clashes = unique::claim(st, &held);
    if !clashes.is_empty() {
        return Err(clashes.into_iter().map(|(f, m)| plain(&f, m)).collect());
    }
    Ok(pid)
}

/// Apply `productUpdate`'s scalar fields (title, texts, tags, SEO, status).
fn update_product_scalars(p: &mut Product, input: &ProductUpdateInput) -> Result<(), Vec<Plain>> {
    if let Some(t) = &input.title {
        if t.trim().is_empty() {
            return Err(vec![plain(&["title"], "Title can't be blank")]);
        }
        p.title = t.clone();
    }
    if let Some(v) = &input.description_html {
        p.description_html = v.clone();
    }
    if let Some(v) = &input.vendor {
        p.vendor = v.clone();
    }
    if let Some(v) = &input.product_type {
        p.product_type = v.clone();
    }
    if let Some(v) = &input.tags {
        p.tags = v.clone();
    }
    if let Some(v) = &input.template_suffix {
        p.template_suffix = Some(v.clone()).filter(|s| !s.is_empty());
    }
    if let Some(seo) = &input.seo {
        set_seo(&mut p.seo_title, &mut p.seo_description, seo);
    }
    if let Some(s) = input.status {
        p.status = status_of(s);
    }
    Ok(())
}

/// Append `productUpdate`'s media to the product, then check the media limit.
fn append_media(
    st: &mut Store,
    p: &mut Product,
    ms: &[CreateMediaInput],
    now: &str,
) -> Result<(), Vec<Plain>> {
    for (i, m) in ms.iter().enumerate() {
        let ct = match m.media_content_type {
            MediaContentType::Video => "VIDEO",
            MediaContentType::ExternalVideo => "EXTERNAL_VIDEO",
            MediaContentType::Model3d => "MODEL_3D",
            MediaContentType::Image => "IMAGE",
        };
        match new_media(st, m.original_source.trim(), m.alt.clone(), ct, now) {
            Ok(media) => p.media.push(media),
            Err(message) => {
                return Err(vec![plain(
                    &["media".to_string(), i.to_string(), "originalSource".into()],
                    message,
                )])
            }
        }
    }
    if p.media.len() > MAX_MEDIA {
        return Err(vec![plain(
            &["media"],
            format!("Products can have at most {MAX_MEDIA} media"),
        )]);
    }
    Ok(())
}

/// The product's collections after `collectionsToJoin` and `collectionsToLeave`.
fn collections_after_update(
    st: &Store,
    p: &Product,
    input: &ProductUpdateInput,
) -> Result<Vec<u64>, Vec<Plain>> {
    let mut wanted: Vec<u64> = p.collections.iter().copied().collect();
    for (name, list, join) in [
        ("collectionsToJoin", &input.collections_to_join, true),
        ("collectionsToLeave", &input.collections_to_leave, false),
    ] {
        for (i, c) in list.iter().flatten().enumerate() {
            let Some(cid) = find_collection(st, c) else {
                return Err(vec![plain(
                    &[name, &i.to_string()],
                    "Collection does not exist",
                )]);
            };
            if join && !wanted.contains(&cid) {
                wanted.push(cid);
            } else if !join {
                wanted.retain(|&x| x != cid);
            }
        }
    }
    Ok(wanted)
}

/// `productDelete`: remove a product and its memberships.
pub fn product_delete(st: &mut Store, id: &ID) -> Result<u64, Vec<Plain>> {
    let Some(pid) = find_product(st, id) else {
        return Err(vec![plain(&["id"], "Product does not exist")]);
    };
    if let Some(p) = st.products.remove(&pid) {
        st.product_handles.remove(p.handle.as_str());
        for c in &p.collections {
            if let Some(col) = st.collections.get_mut(c) {
                remove_member(Arc::make_mut(col), pid);
            }
        }
    }
    Ok(pid)
}

fn set_collection_image(
    st: &mut Store,
    c: &mut Collection,
    img: &ImageInput,
) -> Result<(), Vec<Plain>> {
    match img.src.as_deref().map(str::trim) {
        Some(src) if !src.is_empty() => {
            let keep = c.image.as_ref().filter(|i| i.url == src).map(|i| i.id);
            c.image = Some(Image {
                id: keep.unwrap_or_else(|| st.alloc()),
                url: src.to_string(),
                alt: img.alt_text.clone(),
            });
            Ok(())
        }
        _ => match (&mut c.image, &img.alt_text) {
            (Some(i), Some(alt)) => {
                i.alt = Some(alt.clone());
                Ok(())
            }
            _ => Err(vec![plain(&["image", "src"], "Image src can't be blank")]),
        },
    }
}

/// `collectionCreate`: a custom collection; returns its id.
pub fn collection_create(st: &mut Store, input: &CollectionInput) -> Result<u64, Vec<Plain>> {
    let now = now();
    let title = input.title.clone().unwrap_or_default();
    if title.trim().is_empty() {
        return Err(vec![plain(&["title"], "Title can't be blank")]);
    }
    if input.id.is_some() {
        return Err(vec![plain(
            &["id"],
            "Id must not be given to collectionCreate",
        )]);
    }
    let mut c = Collection {
        id: st.alloc(),
        handle: String::new(),
        title,
        description_html: input.description_html.clone().unwrap_or_default(),
        sort_order: sort_order_name(input.sort_order.unwrap_or(CollectionSortOrder::Manual)).into(),
        template_suffix: input.template_suffix.clone().filter(|s| !s.is_empty()),
        seo_title: input.seo.as_ref().and_then(|s| s.title.clone()),
        seo_description: input.seo.as_ref().and_then(|s| s.description.clone()),
        image: None,
        metafields: Vec::new(),
        products: Default::default(),
        published: true,
        created_at: now.clone(),
        updated_at: now,
    };
    if let Some(img) = &input.image {
        set_collection_image(st, &mut c, img)?;
    }
    if let Some(mfs) = &input.metafields {
        let entries = apply_metafields_plain(st, "COLLECTION", &[], mfs, "metafields")?;
        write_metafields(&mut c.metafields, &mut st.next_id, entries, false);
    }
    let mut members = Vec::new();
    for (i, pid) in input.products.iter().flatten().enumerate() {
        match find_product(st, pid) {
            Some(p) if !members.contains(&p) => members.push(p),
            Some(_) => {}
            None => {
                return Err(vec![plain(
                    &["products", &i.to_string()],
                    "Product does not exist",
                )])
            }
        }
    }
    let base = input
        .handle
        .as_deref()
        .map(validate::handleize)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| validate::handleize(&c.title));
    let base = if base.is_empty() {
        "collection".to_string()
    } else {
        base
    };
    c.handle = validate::unique_handle(&base, &|h| st.collection_handles.contains_key(h));
    st.collection_handles
        .insert(Arc::from(c.handle.as_str()), c.id);
    for p in &members {
        if let Some(prod) = st.products.get_mut(p) {
            Arc::make_mut(prod).collections.insert(c.id);
        }
    }
    c.products = members.into();
    let id = c.id;
    st.collections.insert(id, Arc::new(c));
    Ok(id)
}

fn sort_order_name(s: CollectionSortOrder) -> &'static str {
    match s {
        CollectionSortOrder::AlphaAsc => "ALPHA_ASC",
        CollectionSortOrder::AlphaDesc => "ALPHA_DESC",
        CollectionSortOrder::BestSelling => "BEST_SELLING",
        CollectionSortOrder::Created => "CREATED",
        CollectionSortOrder::CreatedDesc => "CREATED_DESC",
        CollectionSortOrder::Manual => "MANUAL",
        CollectionSortOrder::PriceAsc => "PRICE_ASC",
        CollectionSortOrder::PriceDesc => "PRICE_DESC",
    }
}

/// `collectionUpdate`: change a custom collection (metafields upsert).
pub fn collection_update(st: &mut Store, input: &CollectionInput) -> Result<u64, Vec<Plain>> {
    let Some(cid) = input.id.as_ref().and_then(|id| find_collection(st, id)) else {
        return Err(vec![plain(&["id"], "Collection does not exist")]);
    };
    let Some(mut c) = st.collections.get(&cid).map(|c| (**c).clone()) else {
        return Err(vec![plain(&["id"], "Collection does not exist")]);
    };
    if input.products.is_some() {
        return Err(vec![plain(
            &["products"],
            "Products can only be given to collectionCreate; use collectionAddProducts",
        )]);
    }
    if let Some(t) = &input.title {
        if t.trim().is_empty() {
            return Err(vec![plain(&["title"], "Title can't be blank")]);
        }
        c.title = t.clone();
    }
    if let Some(v) = &input.description_html {
        c.description_html = v.clone();
    }
    if let Some(v) = input.sort_order {
        c.sort_order = sort_order_name(v).into();
    }
    if let Some(v) = &input.template_suffix {
        c.template_suffix = Some(v.clone()).filter(|s| !s.is_empty());
    }
    if let Some(seo) = &input.seo {
        if seo.title.is_some() {
            c.seo_title = seo.title.clone();
        }
        if seo.description.is_some() {
            c.seo_description = seo.description.clone();
        }
    }
    if let Some(img) = &input.image {
        set_collection_image(st, &mut c, img)?;
    }
    if let Some(mfs) = &input.metafields {
        let entries = apply_metafields_plain(st, "COLLECTION", &c.metafields, mfs, "metafields")?;
        write_metafields(&mut c.metafields, &mut st.next_id, entries, false);
    }
    if let Some(h) = &input.handle {
        let want = validate::handleize(h);
        if !want.is_empty() && want != c.handle {
            let handle = validate::unique_handle(&want, &|h| {
                st.collection_handles.get(h).is_some_and(|&o| o != cid)
            });
            st.collection_handles.remove(c.handle.as_str());
            st.collection_handles
                .insert(Arc::from(handle.as_str()), cid);
            c.handle = handle;
        }
    }
    c.updated_at = now();
    st.collections.insert(cid, Arc::new(c));
    Ok(cid)
}

/// `collectionDelete`.
pub fn collection_delete(st: &mut Store, id: &ID) -> Result<u64, Vec<Plain>> {
    let Some(cid) = find_collection(st, id) else {
        return Err(vec![plain(&["id"], "Collection does not exist")]);
    };
    if let Some(c) = st.collections.remove(&cid) {
        st.collection_handles.remove(c.handle.as_str());
        for p in &c.products {
            if let Some(prod) = st.products.get_mut(p) {
                Arc::make_mut(prod).collections.remove(&cid);
            }
        }
    }
    Ok(cid)
}

/// `collectionAddProducts`: fails (adding nothing) when a product does not
/// exist or already is a member.
pub fn collection_add_products(
    st: &mut Store,
    id: &ID,
    products: &[ID],
) -> Result<u64, Vec<Plain>> {
    let Some(cid) = find_collection(st, id) else {
        return Err(vec![plain(&["id"], "Collection does not exist")]);
    };
    let mut errs = Vec::new();
    let mut add = Vec::new();
    for (i, pid) in products.iter().enumerate() {
        let Some(p) = find_product(st, pid).and_then(|p| st.products.get(&p)) else {
            errs.push(plain(
                &["productIds", &i.to_string()],
                "Product does not exist",
            ));
            continue;
        };
        if p.collections.contains(&cid) || add.contains(&p.id) {
            errs.push(plain(
                &["productIds", &i.to_string()],
                format!(
                    "Error adding {} to collection: product is already in the collection",
                    p.title
                ),
            ));
            continue;
        }
        add.push(p.id);
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    for p in &add {
        if let Some(prod) = st.products.get_mut(p) {
            Arc::make_mut(prod).collections.insert(cid);
        }
    }
    if let Some(c) = st.collections.get_mut(&cid) {
        let c = Arc::make_mut(c);
        c.products.extend(add);
        c.updated_at = now();
    }
    Ok(cid)
}

/// `collectionRemoveProducts`: products that are not members are ignored.
pub fn collection_remove_products(
    st: &mut Store,
    id: &ID,
    products: &[ID],
) -> Result<u64, Vec<Plain>> {
    let Some(cid) = find_collection(st, id) else {
        return Err(vec![plain(&["id"], "Collection does not exist")]);
    };
    let ids: Vec<u64> = products
        .iter()
        .filter_map(|p| find_product(st, p))
        .collect();
    for p in &ids {
        if let Some(prod) = st.products.get_mut(p) {
            Arc::make_mut(prod).collections.remove(&cid);
        }
    }
    if let Some(c) = st.collections.get_mut(&cid) {
        let c = Arc::make_mut(c);
        c.products.retain(|p| !ids.contains(p));
        c.updated_at = now();
    }
    Ok(cid)
}

/// A metafield written by `metafieldsSet`.
#[derive(Debug, Clone)]
pub struct MfRef {
    pub owner: Owner,
    pub namespace: String,
    pub key: String,
}

/// `metafieldsSet`: at most 25, all or nothing.
pub fn metafields_set(
    st: &mut Store,
    inputs: &[MetafieldsSetInput],
) -> Result<Vec<MfRef>, Vec<UserErr<MsCode>>> {
    if inputs.len() > MAX_METAFIELDS_SET {
        return Err(vec![UserErr::new(
            &["metafields"],
            format!("Exceeded the maximum metafields input limit of {MAX_METAFIELDS_SET}."),
            MsCode::LessThanOrEqualTo,
        )]);
    }
    let mut errs = Vec::new();
    let mut planned = Vec::new();
    for (i, m) in inputs.iter().enumerate() {
        let here = ["metafields".to_string(), i.to_string()];
        let Some(owner) = Owner::of(st, &m.owner_id) else {
            errs.push(UserErr {
                field: path(&here, &["ownerId".into()]),
                message: "Owner does not exist".into(),
                code: Some(MsCode::InvalidValue),
            });
            continue;
        };
        let ns = validate::resolve_namespace(m.namespace.as_deref());
        let current = metafields_of(st, owner)
            .iter()
            .find(|c| c.namespace == ns && c.key == m.key);
        if let Some(d) = &m.compare_digest {
            let fresh = current.map(compare_digest);
            if fresh.as_deref() != Some(d.as_str()) {
                errs.push(UserErr {
                    field: path(&here, &["compareDigest".into()]),
                    message: "The resource has been updated since it was loaded. Try again with an updated `compareDigest` value.".into(),
                    code: Some(MsCode::StaleObject),
                });
                continue;
            }
        }
        match check_metafield(
            st,
            owner.owner_type(),
            m.namespace.as_deref(),
            Some(&m.key),
            m.type_name.as_deref(),
            Some(&m.value),
            current.map(|c| c.type_name.as_str()),
        ) {
            Ok(e) => planned.push((owner, e)),
            Err((f, message, code)) => errs.push(UserErr {
                field: path(&here, &[f.into()]),
                message,
                code: Some(code),
            }),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut out = Vec::new();
    let mut held = Vec::new();
    for (i, (owner, e)) in planned.into_iter().enumerate() {
        out.push(MfRef {
            owner,
            namespace: e.namespace.clone(),
            key: e.key.clone(),
        });
        held.push(unique::Held {
            owner,
            namespace: e.namespace.clone(),
            key: e.key.clone(),
            value: e.value.clone(),
            field: vec!["metafields".into(), i.to_string(), "value".into()],
        });
        if let Some((list, counter)) = metafields_of_mut(st, owner) {
            write_metafields(list, counter, vec![e], false);
        }
        touch(st, owner);
    }
    claim_unique(st, &held, MsCode::CapabilityViolation)?;
    Ok(out)
}

fn touch(st: &mut Store, owner: Owner) {
    let now = now();
    match owner {
        Owner::Product(p) | Owner::Variant { product: p, .. } => {
            if let Some(p) = st.products.get_mut(&p) {
                Arc::make_mut(p).updated_at = now;
            }
        }
        Owner::Collection(c) => {
            if let Some(c) = st.collections.get_mut(&c) {
                Arc::make_mut(c).updated_at = now;
            }
        }
        Owner::Shop => {}
    }
}

/// `metafieldsDelete`: `None` for each metafield that did not exist.
pub fn metafields_delete(
    st: &mut Store,
    ids: &[MetafieldIdentifierInput],
) -> Vec<Option<(String, String, String)>> {
    let mut out = Vec::new();
    for m in ids {
        let Some(owner) = Owner::of(st, &m.owner_id) else {
            out.push(None);
            continue;
        };
        let ns = validate::resolve_namespace(Some(&m.namespace));
        let removed = match metafields_of_mut(st, owner) {
            Some((list, _)) => {
                let before = list.len();
                list.retain(|x| !(x.namespace == ns && x.key == m.key));
                before != list.len()
            }
            None => false,
        };
        if removed {
            touch(st, owner);
            out.push(Some((
                m.owner_id.to_string(),
                m.namespace.clone(),
                m.key.clone(),
            )));
        } else {
            out.push(None);
        }
    }
    out
}

fn owner_type_name(t: MetafieldOwnerType) -> String {
    enum_name(&t)
}

/// `metafieldDefinitionCreate`; returns the definition's id.
pub fn metafield_definition_create(
    st: &mut Store,
    d: &MetafieldDefinitionInput,
) -> Result<u64, Vec<UserErr<DefCode>>> {
    let ns = validate::resolve_namespace(d.namespace.as_deref());
    let owner_type = owner_type_name(d.owner_type);
    let mut errs = Vec::new();
    if d.namespace
        .as_deref()
        .is_some_and(|n| !n.starts_with("$app"))
    {
        if let Err(m) = validate::check_namespace(&ns) {
            errs.push(UserErr::new(
                &["definition", "namespace"],
                m,
                DefCode::Invalid,
            ));
        }
    }
    if let Err(m) = validate::check_key(&d.key) {
        errs.push(UserErr::new(&["definition", "key"], m, DefCode::Invalid));
    }
    if d.name.trim().is_empty() {
        errs.push(UserErr::new(
            &["definition", "name"],
            "Name can't be blank",
            DefCode::Present,
        ));
    }
    if !validate::is_known_type(&d.type_name) {
        errs.push(UserErr::new(
            &["definition", "type"],
            format!("Type '{}' is not included in the list", d.type_name),
            DefCode::Inclusion,
        ));
    }
    if st
        .metafield_definitions
        .values()
        .any(|x| x.owner_type == owner_type && x.namespace == ns && x.key == d.key)
    {
        errs.push(UserErr::new(
            &["definition", "key"],
            format!("Key is in use for {owner_type} metafields on the '{ns}' namespace."),
            DefCode::Taken,
        ));
    }
    let unique_values = match definition_unique_values(st, d, &owner_type, &ns) {
        Ok(u) => u,
        Err(e) => {
            errs.push(e);
            false
        }
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let pinned = if d.pin == Some(true) {
        let max = st
            .metafield_definitions
            .values()
            .filter(|x| x.owner_type == owner_type)
            .filter_map(|x| x.pinned_position)
            .max()
            .unwrap_or(0);
        Some(max + 1)
    } else {
        None
    };
    let id = st.alloc();
    st.metafield_definitions.insert(
        id,
        MetafieldDefinition {
            id,
            namespace: ns,
            key: d.key.clone(),
            name: d.name.clone(),
            description: d.description.clone(),
            owner_type,
            type_name: d.type_name.clone(),
            pinned_position: pinned,
            unique_values,
        },
    );
    if unique_values {
        st.rebuild_unique_index();
    }
    Ok(id)
}

/// The `uniqueValues` capability a new definition gets: on for the `id`
/// type (which cannot have it off), on when asked for a type that allows it
/// and whose existing metafields hold distinct values.
fn definition_unique_values(
    st: &Store,
    d: &MetafieldDefinitionInput,
    owner_type: &str,
    namespace: &str,
) -> Result<bool, UserErr<DefCode>> {
    let field = ["definition", "capabilities", "uniqueValues"];
    let asked = d
        .capabilities
        .as_ref()
        .and_then(|c| c.unique_values.as_ref())
        .map(|u| u.enabled);
    if d.type_name == "id" {
        return match asked {
            Some(false) => Err(UserErr::new(
                &field,
                "The unique values capability is required for the id type.",
                DefCode::CapabilityRequiredButDisabled,
            )),
            _ => Ok(true),
        };
    }
    if asked != Some(true) {
        return Ok(false);
    }
    if !validate::UNIQUE_VALUE_TYPES.contains(&d.type_name.as_str()) {
        return Err(UserErr::new(
            &field,
            format!(
                "The unique values capability is not available for the type '{}'.",
                d.type_name
            ),
            DefCode::InvalidCapability,
        ));
    }
    let probe = MetafieldDefinition {
        id: 0,
        namespace: namespace.to_string(),
        key: d.key.clone(),
        name: String::new(),
        description: None,
        owner_type: owner_type.to_string(),
        type_name: d.type_name.clone(),
        pinned_position: None,
        unique_values: true,
    };
    if unique::values_are_distinct(st, &probe) {
        Ok(true)
    } else {
        Err(UserErr::new(
            &field,
            "Existing metafields of this definition do not have unique values.",
            DefCode::InvalidCapability,
        ))
    }
}

/// `metafieldDefinitionUpdate`: change the name, description or pin of the
/// definition found by owner type, namespace and key (its type never changes).
pub fn metafield_definition_update(
    st: &mut Store,
    d: &MetafieldDefinitionUpdateInput,
) -> Result<u64, Vec<UserErr<DefUpdCode>>> {
    let ns = validate::resolve_namespace(d.namespace.as_deref());
    let owner_type = owner_type_name(d.owner_type);
    let Some(id) = st
        .metafield_definitions
        .values()
        .find(|x| x.owner_type == owner_type && x.namespace == ns && x.key == d.key)
        .map(|x| x.id)
    else {
        return Err(vec![UserErr::new(
            &["definition"],
            "Definition not found.",
            DefUpdCode::NotFound,
        )]);
    };
    if d.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(vec![UserErr::new(
            &["definition", "name"],
            "Name can't be blank",
            DefUpdCode::Present,
        )]);
    }
    let next_pin = st
        .metafield_definitions
        .values()
        .filter(|x| x.owner_type == owner_type)
        .filter_map(|x| x.pinned_position)
        .max()
        .unwrap_or(0)
        + 1;
    if let Some(def) = st.metafield_definitions.get_mut(&id) {
        if let Some(n) = &d.name {
            def.name = n.clone();
        }
        if d.description.is_some() {
            def.description = d.description.clone().filter(|s| !s.is_empty());
        }
        match d.pin {
            Some(true) if def.pinned_position.is_none() => def.pinned_position = Some(next_pin),
            Some(false) => def.pinned_position = None,
            _ => {}
        }
    }
    Ok(id)
}

/// The id of the sandbox's one publication (the online store).
pub const ONLINE_STORE_PUBLICATION: u64 = 1;

/// `publishablePublish` (`publish`) / `publishableUnpublish`: a custom
/// collection is published on the sandbox's one publication or not; a
/// product's publications are not modelled (its status is), so for a
/// product this checks the input and changes nothing.
pub fn publishable_set(
    st: &mut Store,
    id: &ID,
    input: &[PublicationInput],
    publish: bool,
) -> Result<u64, Vec<Plain>> {
    for (i, p) in input.iter().enumerate() {
        let ok = p
            .publication_id
            .as_ref()
            .is_some_and(|pid| pid.as_str() == gid("Publication", ONLINE_STORE_PUBLICATION));
        if !ok {
            return Err(vec![plain(
                &["input", &i.to_string(), "publicationId"],
                "Publication does not exist",
            )]);
        }
    }
    match st.find(id) {
        Some(Found::Collection(c)) => {
            if let Some(col) = st.collections.get_mut(&c) {
                let col = Arc::make_mut(col);
                if !input.is_empty() && col.published != publish {
                    col.published = publish;
                    col.updated_at = now();
                }
            }
            Ok(c)
        }
        Some(Found::Product(p)) => Ok(p),
        _ => Err(vec![plain(&["id"], "Resource does not exist")]),
    }
}

/// One change made by `inventorySetQuantities`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InvChange {
    pub name: String,
    pub delta: i64,
    pub after: i64,
    pub item: u64,
    pub location: u64,
}

/// Reasons `inventorySetQuantities` accepts.
pub const REASONS: &[&str] = &[
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "movement_updated",
    "movement_received",
    "movement_canceled",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
];

/// How `inventorySetQuantities` checks the quantity a client expects
/// (compare and swap): the input field, and the message and code when it is
/// missing or stale.
#[derive(Debug, Clone, Copy)]
pub struct CasRule {
    pub field: &'static str,
    pub missing: (&'static str, InvCode),
    pub stale: (&'static str, InvCode),
}

/// 2026-04: `changeFromQuantity`, mandatory (`null` skips the check).
pub const CAS_2026_04: CasRule = CasRule {
    field: "changeFromQuantity",
    missing: (
        "The changeFromQuantity field is mandatory: pass the quantity you expect, or null to skip the check.",
        InvCode::CompareQuantityRequired,
    ),
    stale: (
        "The changeFromQuantity value does not match persisted value.",
        InvCode::ChangeFromQuantityStale,
    ),
};

/// 2025-01: `compareQuantity`, unless `ignoreCompareQuantity: true`.
pub const CAS_2025_01: CasRule = CasRule {
    field: "compareQuantity",
    missing: (
        "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.",
        InvCode::CompareQuantityRequired,
    ),
    stale: (
        "The specified compare quantity does not match the current quantity.",
        InvCode::CompareQuantityStale,
    ),
};

/// `inventorySetQuantities`: all or nothing; every quantity is checked
/// before any is written, so a refusal leaves the store untouched.
pub fn inventory_set_quantities(
    st: &mut Store,
    input: &InventorySetQuantitiesInput,
    rule: &CasRule,
) -> Result<(u64, Vec<InvChange>), Vec<UserErr<InvCode>>> {
    let mut errs = check_quantity_name_and_reason(input);
    let mut plan = Vec::new();
    let mut seen = HashSet::new();
    for (i, q) in input.quantities.iter().enumerate() {
        match plan_quantity(st, &input.name, rule, i, q, &mut seen) {
            Ok(step) => plan.push(step),
            Err(e) => errs.push(e),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let changes = apply_quantities(st, &input.name, plan);
    Ok((st.alloc(), changes))
}

type InvErr = UserErr<InvCode>;

/// One checked quantity of `inventorySetQuantities`, ready to be written.
struct QuantityPlan {
    product: u64,
    variant: u64,
    location: u64,
    quantity: i64,
    before: i64,
}

/// The errors of an unknown quantity name or reason.
fn check_quantity_name_and_reason(input: &InventorySetQuantitiesInput) -> Vec<InvErr> {
    let mut errs = Vec::new();
    if input.name != "available" && input.name != "on_hand" {
        errs.push(UserErr::new(
            &["input", "name"],
            "The quantity name must be either 'available' or 'on_hand'.",
            InvCode::InvalidName,
        ));
    }
    if !REASONS.contains(&input.reason.as_str()) {
        errs.push(UserErr::new(
            &["input", "reason"],
            "The specified reason is invalid.",
            InvCode::InvalidReason,
        ));
    }
    errs
}

/// The field path `input.quantities.<i>.<field>`.
fn quantity_field(i: usize, field: &str) -> Vec<String> {
    vec![
        "input".to_string(),
        "quantities".into(),
        i.to_string(),
        field.into(),
    ]
}

/// Check quantity `i` (item, location, uniqueness, stocking, bounds, compare quantity).
fn plan_quantity(
    st: &Store,
    name: &str,
    rule: &CasRule,
    i: usize,
    q: &InventoryQuantityInput,
    seen: &mut HashSet<(u64, u64)>,
) -> Result<QuantityPlan, InvErr> {
    let here = |f: &str| quantity_field(i, f);
    let Some(Found::InventoryItem { product, variant }) = st.find(&q.inventory_item_id) else {
        return Err(UserErr {
            field: here("inventoryItemId"),
            message: "The specified inventory item could not be found.".into(),
            code: Some(InvCode::InvalidInventoryItem),
        });
    };
    let Some(Found::Location(loc)) = st.find(&q.location_id) else {
        return Err(UserErr {
            field: here("locationId"),
            message: "The specified location could not be found.".into(),
            code: Some(InvCode::InvalidLocation),
        });
    };
    if !seen.insert((variant, loc)) {
        return Err(UserErr {
            field: here("inventoryItemId"),
            message: "The combination of inventoryItemId and locationId must be unique.".into(),
            code: Some(InvCode::NoDuplicateInventoryItemIdGroupIdPair),
        });
    }
    let level = st
        .products
        .get(&product)
        .and_then(|p| p.variants.iter().find(|v| v.id == variant))
        .and_then(|v| v.inventory_item.levels.get(&loc));
    let Some(level) = level else {
        return Err(UserErr {
            field: here("locationId"),
            message: "The specified inventory item is not stocked at the location.".into(),
            code: Some(InvCode::ItemNotStockedAtLocation),
        });
    };
    check_quantity_bounds(i, q.quantity)?;
    let current = if name == "on_hand" {
        level.on_hand
    } else {
        level.available
    };
    check_cas(i, &q.change_from_quantity, current, rule)?;
    Ok(QuantityPlan {
        product,
        variant,
        location: loc,
        quantity: i64::from(q.quantity),
        before: current,
    })
}

/// A quantity must lie within ±1,000,000,000.
fn check_quantity_bounds(i: usize, quantity: i32) -> Result<(), InvErr> {
    if quantity > 1_000_000_000 {
        return Err(UserErr {
            field: quantity_field(i, "quantity"),
            message: "The quantity can't be higher than 1,000,000,000.".into(),
            code: Some(InvCode::InvalidQuantityTooHigh),
        });
    }
    if quantity < -1_000_000_000 {
        return Err(UserErr {
            field: quantity_field(i, "quantity"),
            message: "The quantity can't be lower than -1,000,000,000.".into(),
            code: Some(InvCode::InvalidQuantityTooLow),
        });
    }
    Ok(())
}

/// The expected quantity must be given (a number or `null`, which skips the
/// check) and equal the current quantity.
fn check_cas(
    i: usize,
    expected: &MaybeUndefined<i32>,
    current: i64,
    rule: &CasRule,
) -> Result<(), InvErr> {
    let fail = |(message, code): (&str, InvCode)| {
        Err(UserErr {
            field: quantity_field(i, rule.field),
            message: message.into(),
            code: Some(code),
        })
    };
    match expected {
        MaybeUndefined::Undefined => fail(rule.missing),
        MaybeUndefined::Value(c) if i64::from(*c) != current => fail(rule.stale),
        _ => Ok(()),
    }
}

/// Write the planned quantities; returns one change per quantity written.
fn apply_quantities(st: &mut Store, name: &str, plan: Vec<QuantityPlan>) -> Vec<InvChange> {
    let now = now();
    let mut changes = Vec::new();
    for q in plan {
        let Some(p) = st.products.get_mut(&q.product) else {
            continue;
        };
        let p = Arc::make_mut(p);
        p.updated_at = now.clone();
        let Some(v) = p.variants.iter_mut().find(|v| v.id == q.variant) else {
            continue;
        };
        let item = v.inventory_item.id;
        if let Some(level) = v.inventory_item.levels.get_mut(&q.location) {
            // No orders in the sandbox: committed is 0, so on_hand == available.
            level.available = q.quantity;
            level.on_hand = q.quantity;
            level.updated_at = now.clone();
        }
        changes.push(InvChange {
            name: name.to_string(),
            delta: q.quantity - q.before,
            after: q.quantity,
            item,
            location: q.location,
        });
    }
    changes
}

/// The arguments of `inventoryActivate`.
#[derive(Debug, Clone, Copy)]
pub struct Activate<'a> {
    pub inventory_item_id: &'a ID,
    pub location_id: &'a ID,
    pub available: Option<i32>,
    pub on_hand: Option<i32>,
}

/// Where `inventoryActivate` stocked an item (or found it stocked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activated {
    /// The inventory item's id.
    pub item: u64,
    /// The location's id.
    pub location: u64,
}

/// `inventoryActivate`: stock an inventory item at a location with its
/// initial `available` and `onHand` quantities (each defaults to the other,
/// then to 0). An item already stocked there keeps its level and quantities.
pub fn inventory_activate(
    st: &mut Store,
    a: &Activate<'_>,
) -> Result<Activated, Vec<UserErr<NoCode>>> {
    let mut errs = Vec::new();
    let item = match st.find(a.inventory_item_id) {
        Some(Found::InventoryItem { product, variant }) => Some((product, variant)),
        _ => {
            errs.push(plain(
                &["inventoryItemId"],
                "The specified inventory item could not be found.",
            ));
            None
        }
    };
    let location = match st.find(a.location_id) {
        Some(Found::Location(l)) if st.locations.get(&l).is_some_and(|l| l.is_active) => Some(l),
        Some(Found::Location(_)) => {
            errs.push(plain(
                &["locationId"],
                "Inventory can't be stocked at an inactive location.",
            ));
            None
        }
        _ => {
            errs.push(plain(
                &["locationId"],
                "The specified location could not be found.",
            ));
            None
        }
    };
    errs.extend(activation_quantity_errors(a.available, a.on_hand));
    let (Some((product, variant)), Some(location), true) = (item, location, errs.is_empty()) else {
        return Err(errs);
    };
    let gone = || {
        vec![plain(
            &["inventoryItemId"],
            "The specified inventory item could not be found.",
        )]
    };
    let level_id = st.alloc();
    let now = now();
    let p = Arc::make_mut(st.products.get_mut(&product).ok_or_else(gone)?);
    let v = p
        .variants
        .iter_mut()
        .find(|v| v.id == variant)
        .ok_or_else(gone)?;
    let item = v.inventory_item.id;
    if v.inventory_item.levels.contains_key(&location) {
        return Ok(Activated { item, location });
    }
    let available = a.available.or(a.on_hand).unwrap_or(0);
    let on_hand = a.on_hand.or(a.available).unwrap_or(0);
    v.inventory_item.levels.insert(
        location,
        InventoryLevel {
            id: level_id,
            available: i64::from(available),
            on_hand: i64::from(on_hand),
            updated_at: now.clone(),
        },
    );
    v.inventory_item.updated_at = now.clone();
    p.updated_at = now;
    Ok(Activated { item, location })
}

/// The initial quantities must lie within ±1,000,000,000, and on hand can't
/// be lower than available (no orders: nothing else is counted in on hand).
fn activation_quantity_errors(
    available: Option<i32>,
    on_hand: Option<i32>,
) -> Vec<UserErr<NoCode>> {
    let mut errs = Vec::new();
    for (field, q) in [("available", available), ("onHand", on_hand)] {
        match q {
            Some(q) if q > 1_000_000_000 => errs.push(plain(
                &[field],
                "The quantity can't be higher than 1,000,000,000.",
            )),
            Some(q) if q < -1_000_000_000 => errs.push(plain(
                &[field],
                "The quantity can't be lower than -1,000,000,000.",
            )),
            _ => {}
        }
    }
    if let (Some(a), Some(h)) = (available, on_hand) {
        if h < a {
            errs.push(plain(
                &["onHand"],
                "The on_hand quantity can't be lower than the available quantity.",
            ));
        }
    }
    errs
}

/// `fileUpdate` on product media: a new `originalSource` replaces a
/// medium's image in place (same id, position, variant links; alt kept
/// unless given; a staged file processes again), `alt` sets its alt text,
/// `referencesToRemove` naming its product removes it from the product
/// (and from the variants linked to it). All or nothing: the first error
/// refuses the whole call. Returns the products changed.
pub fn file_update(
    st: &mut Store,
    inputs: &[FileUpdateInput],
) -> Result<Vec<u64>, Vec<UserErr<crate::gql::errors::FilesErrorCode>>> {
    use crate::gql::errors::FilesErrorCode as Code;
    let now = now();
    let mut changed = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let at = |leaf: &str| vec!["files".to_string(), i.to_string(), leaf.to_string()];
        let Some(Found::Media { product, media }) = st.find(input.id.as_str()) else {
            return Err(vec![UserErr {
                field: at("id"),
                message: format!("File id {} does not exist.", input.id.as_str()),
                code: Some(Code::FileDoesNotExist),
            }]);
        };
        let Some(mut p) = st.products.get(&product).map(|p| (**p).clone()) else {
            return Err(vec![UserErr {
                field: at("id"),
                message: format!("File id {} does not exist.", input.id.as_str()),
                code: Some(Code::FileDoesNotExist),
            }]);
        };
        let Some(idx) = p.media.iter().position(|m| m.id == media) else {
            continue;
        };
        if let Some(src) = input.original_source.as_deref() {
            let alt = p.media[idx].alt.clone();
            let ct = p.media[idx].content_type.clone();
            let fresh = new_media(st, src.trim(), alt, &ct, &now).map_err(|message| {
                vec![UserErr {
                    field: at("originalSource"),
                    message,
                    code: Some(Code::InvalidImageSourceUrl),
                }]
            })?;
            let m = &mut p.media[idx];
            m.original_source = fresh.original_source;
            m.status = fresh.status;
            m.failure = fresh.failure;
            m.sha256 = fresh.sha256;
        }
        if let Some(alt) = &input.alt {
            p.media[idx].alt = Some(alt.clone()).filter(|a| !a.is_empty());
        }
        let mut removed = false;
        for (j, r) in input.references_to_remove.iter().flatten().enumerate() {
            if crate::model::parse_gid(r.as_str()).map(|(_, n)| n) != Some(product) {
                return Err(vec![UserErr {
                    field: vec![
                        "files".to_string(),
                        i.to_string(),
                        "referencesToRemove".to_string(),
                        j.to_string(),
                    ],
                    message: format!("Reference {} is not a reference of the file.", r.as_str()),
                    code: Some(Code::ReferenceTargetDoesNotExist),
                }]);
            }
            removed = true;
        }
        if removed {
            p.media.remove(idx);
            for v in &mut p.variants {
                v.media_ids.retain(|m| *m != media);
            }
        }
        p.updated_at = now.clone();
        st.products.insert(product, Arc::new(p));
        if !changed.contains(&product) {
            changed.push(product);
        }
    }
    Ok(changed)
}
