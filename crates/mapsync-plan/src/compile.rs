//! Records to desired documents. A [`Compiler`] is built once per entity
//! from the checked mapping set (templates are parsed once) and turns one
//! record's fields into a [`Document`] and its [`Control`] values: paths
//! evaluated, defaults and transforms applied, values coerced to their
//! target's type, metafields checked, images ordered, variants filtered,
//! sorted and keyed.
//!
//! A record that fails is invalid with *all* its diagnostics (codes
//! `record::...`); compiling never panics and never stops a run. This
//! module does no I/O and decides nothing about sync rules (keys missing or
//! duplicated across records, selection, modes): that is `reconcile`'s work.
//!
//! Canonical forms (so that equal data hashes equally): decimals are
//! written in their minimal form (`50.00` → `50`, `12.50` → `12.5`,
//! `-0` → `0`), booleans as JSON booleans, lists as arrays of trimmed,
//! non-empty strings, enum words in the case the field declares, country
//! codes upper-case. Empty values (null, `""`, `[]`) omit the field.

pub use mapsync_core::value::{is_empty, normalize_decimal};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use mapsync_config::check::fields::{check_literal, parse_bool, FieldType};
use mapsync_config::check::model::{
    Entity, EntityMapping, FieldMapping, ImageKind, ImageSpec, MappingSet, OptionName, TargetSpec,
    Transform, ValueSource, ValueSpec,
};
use mapsync_config::metafield::{self, Base};
use mapsync_core::diag::{codes, Diagnostic, Severity};
use mapsync_core::hash;
use mapsync_syntax::{Index, Segment, SourcePath};

use super::document::{Control, Document, Image, MetafieldDescription, MetafieldValue, VariantDoc};

/// Why a [`Compiler`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The mapping set has no mapping for the entity.
    #[error("the mapping set does not map `{0}`")]
    EntityNotMapped(&'static str),
}

/// A compiled record: its document, its control values and the warnings
/// found on the way (the record is still valid).
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The desired document.
    pub document: Document,
    /// Control values for the sync rules.
    pub control: Control,
    /// Warnings (images dropped...).
    pub warnings: Vec<Diagnostic>,
}

/// What a compile knows of the run it serves: its instant (images whose
/// rights expired are left out) and the profile's channel (images not
/// licensed for it are left out). `Default`: the wall clock when a record
/// has an expiry, and no channel (every image is licensed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunContext {
    /// The run's start.
    pub now: Option<time::OffsetDateTime>,
    /// The profile's channel.
    pub channel: Option<String>,
}

/// Turns records of one entity into desired documents.
pub struct Compiler<'m> {
    /// The run's instant and channel.
    run: RunContext,
    entity: &'m EntityMapping,
    /// The target's limits (images and options per product).
    limits: mapsync_core::target::Limits,
    /// The target's pre-flight rules.
    rules: &'static [mapsync_core::rules::Rule],
    kind: Entity,
    env: minijinja::Environment<'static>,
    /// Template source → its name in `env` (or the parse error text).
    templates: BTreeMap<String, Result<String, String>>,
    /// Template name → the top-level variables it reads: the render
    /// context holds only these (a template can reach nothing else).
    template_vars: BTreeMap<String, Vec<String>>,
}

impl std::fmt::Debug for Compiler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiler")
            .field("kind", &self.kind)
            .field("templates", &self.templates.len())
            .finish()
    }
}

/// The content hash of a document (`sha256:` + 64 hex digits), stable
/// across object key order, runs and machines.
pub fn document_hash(doc: &Document) -> String {
    let mut out = hash::Canonical::new();
    doc.write_canonical(&mut out);
    out.finish()
}

/// [`document_hash`] and the canonical text it hashes (valid JSON of the
/// document: the plan's spool stores it).
pub fn document_hash_and_text(doc: &Document) -> (String, Vec<u8>) {
    let mut out = hash::Canonical::new();
    doc.write_canonical(&mut out);
    out.finish_with_text()
}

/// [`document_hash`] the slow way, through a `serde_json::Value` (kept to
/// prove the two agree).
pub fn document_hash_via_value(doc: &Document) -> String {
    let value = serde_json::to_value(doc).unwrap_or(Value::Null);
    hash::content_hash(&value)
}

impl<'m> Compiler<'m> {
    /// A compiler for `kind` records of `set`.
    pub fn new(set: &'m MappingSet, kind: Entity) -> Result<Compiler<'m>, CompileError> {
        let entity = match kind {
            Entity::Category => set.category.as_ref(),
            Entity::Product => set.product.as_ref(),
        }
        .ok_or(CompileError::EntityNotMapped(kind.as_str()))?;
        let mut env = mapsync_config::template::environment();
        let mut templates = BTreeMap::new();
        let mut all = entity.fields.iter().collect::<Vec<_>>();
        if let Some(v) = &entity.variants {
            all.extend(v.fields.iter());
        }
        for fm in all {
            if let ValueSource::Template(src) = &fm.value.source {
                if templates.contains_key(src) {
                    continue;
                }
                let name = format!("t{}", templates.len());
                let entry = match env.add_template_owned(name.clone(), src.clone()) {
                    Ok(()) => Ok(name),
                    Err(e) => Err(e.to_string()),
                };
                templates.insert(src.clone(), entry);
            }
        }
        let mut template_vars = BTreeMap::new();
        for name in templates.values().flatten() {
            if let Ok(t) = env.get_template(name) {
                let mut vars: Vec<String> = t.undeclared_variables(false).into_iter().collect();
                vars.sort();
                template_vars.insert(name.clone(), vars);
            }
        }
        Ok(Compiler {
            run: RunContext::default(),
            entity,
            limits: set.limits,
            rules: set.rules,
            kind,
            env,
            templates,
            template_vars,
        })
    }

    /// This compiler for a run at `run.now` on `run.channel`.
    pub fn in_run(mut self, run: RunContext) -> Self {
        self.run = run;
        self
    }

    /// The entity this compiler compiles.
    pub fn kind(&self) -> Entity {
        self.kind
    }

    /// Compile one record. `Err` holds every diagnostic of an invalid
    /// record (errors and warnings).
    pub fn compile(&self, fields: &Map<String, Value>) -> Result<Compiled, Vec<Diagnostic>> {
        let mut cx = Cx {
            compiler: self,
            root: fields,
            diags: Vec::new(),
            ctx_value: None,
        };
        let (document, mut control) = cx.document();
        let mut has_errors = cx.diags.iter().any(|d| d.severity == Severity::Error);
        if !has_errors && !self.rules.is_empty() {
            // Pre-flight: what the target would refuse is invalid here.
            let refused = super::preflight::check(&document, self.rules, &self.limits);
            has_errors = !refused.is_empty();
            cx.diags.extend(refused);
            if mapsync_core::rules::needs_run_values(self.rules) {
                control.unique = super::preflight::unique_values(&document, self.rules);
            }
        }
        if has_errors {
            Err(cx.diags)
        } else {
            Ok(Compiled {
                document,
                control,
                warnings: cx.diags,
            })
        }
    }
}

/// Per-record compilation state.
struct Cx<'c, 'm, 'r> {
    compiler: &'c Compiler<'m>,
    root: &'r Map<String, Value>,
    diags: Vec<Diagnostic>,
    /// The product record as a template context, built on first use.
    ctx_value: Option<minijinja::Value>,
}

/// What a `map:` section produced for one owner (product, category or variant).
#[derive(Default)]
struct Section {
    fields: BTreeMap<String, Value>,
    metafields: Vec<MetafieldValue>,
    descriptions: Vec<MetafieldDescription>,
    /// (option name, value) in declaration order; `None` name = dropped.
    options: Vec<(String, Option<String>)>,
    quantities: BTreeMap<String, i64>,
}

impl<'r> Cx<'_, '_, 'r> {
    fn error(&mut self, code: codes::Code, fm: Option<&FieldMapping>, msg: String, help: &str) {
        let d = Diagnostic::error(code, msg)
            .at_opt(fm.and_then(|f| f.location.clone()))
            .help(help);
        self.diags.push(d);
    }

    fn warn(&mut self, code: codes::Code, msg: String, help: &str) {
        self.diags.push(Diagnostic::warning(code, msg).help(help));
    }

    fn document(&mut self) -> (Document, Control) {
        let c = self.compiler;
        let ent = c.entity;
        let root = self.root;
        let key = match resolve(&ent.key, root) {
            Some(v) => match scalar_text(&v) {
                Some(t) => t.trim().to_string(),
                None => {
                    self.error(
                        codes::RECORD_VALUE,
                        None,
                        format!(
                            "the key `{}` is {}, not a text or number",
                            ent.key.display(),
                            kind_of(&v)
                        ),
                        "point `key:` at a field holding one text or number",
                    );
                    String::new()
                }
            },
            None => String::new(),
        };
        let control = self.control();
        let section = self.section(&ent.fields, root, Owner::Top);
        let mut doc = Document {
            entity: c.kind,
            key,
            fields: section.fields,
            metafields: section.metafields,
            metafield_descriptions: section.descriptions,
            images: Vec::new(),
            options: Vec::new(),
            variants: Vec::new(),
            categories: Vec::new(),
        };
        doc.images = self.images(&ent.images, root, None, false);
        if c.kind == Entity::Product {
            if let Some(path) = &ent.categories {
                doc.categories = resolve(path, root)
                    .map(|v| text_list(&v))
                    .unwrap_or_default();
                let mut seen = HashSet::new();
                doc.categories.retain(|k| seen.insert(k.clone()));
            }
            self.variants(&mut doc);
            let max_images = self.compiler.limits.images;
            if doc.images.len() > max_images {
                let n = doc.images.len();
                doc.images.truncate(max_images);
                self.warn(
                    codes::RECORD_IMAGES_TOO_MANY,
                    format!("product '{}' has {n} images; the target keeps at most {max_images}, the last {} are dropped", doc.key, n - max_images),
                    "map fewer images (product images come first, then each variant's)",
                );
            }
        } else if doc.images.len() > 1 {
            let n = doc.images.len();
            doc.images.truncate(1);
            self.warn(
                codes::RECORD_CATEGORY_IMAGES,
                format!(
                    "category '{}' has {n} images; a collection has one, the first is used",
                    doc.key
                ),
                "give categories a single image",
            );
        }
        self.check_embedded(&doc);
        (doc, control)
    }

    /// Embedded images must decode to an image the targets take: the
    /// record is invalid otherwise (nothing is uploaded).
    fn check_embedded(&mut self, doc: &Document) {
        for (n, img) in doc.images.iter().enumerate() {
            if img.kind != mapsync_core::document::ImageKind::Embedded {
                continue;
            }
            if let Err(e) = mapsync_core::image::image(&img.src) {
                let alt = match img.alt.as_deref() {
                    Some(a) if !a.is_empty() => format!("alt '{a}'"),
                    _ => "no alt text".into(),
                };
                self.error(
                    codes::RECORD_IMAGE_DATA,
                    None,
                    format!(
                        "{} '{}': image {} ({alt}) is embedded data that {e}",
                        doc.entity.as_str(),
                        doc.key,
                        n + 1
                    ),
                    "embedded images are base64 text of a PNG, JPEG, GIF or WEBP file",
                );
            }
        }
    }

    fn control(&mut self) -> Control {
        let ent = self.compiler.entity;
        let root = self.root;
        let mut control = Control {
            has_sync_date_field: ent.writeback.sync_date.is_some(),
            ..Control::default()
        };
        for (path, which) in [(&ent.select, "select"), (&ent.published, "published")] {
            let Some(path) = path else { continue };
            let Some(v) = resolve(path, root) else {
                continue;
            };
            match to_bool(&v) {
                Some(b) => {
                    if which == "select" {
                        control.selected = Some(b);
                    } else {
                        control.published = Some(b);
                    }
                }
                None => self.error(
                    codes::RECORD_VALUE,
                    None,
                    format!(
                        "`{which}` field `{}` is {}, not a boolean",
                        path.display(),
                        show(&v)
                    ),
                    "use true/false, 1/0 or yes/no",
                ),
            }
        }
        if let Some(path) = &ent.mode {
            control.no_update = resolve(path, root)
                .and_then(|v| scalar_text(&v))
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("NoUpdate"));
        }
        let text_at = |p: &Option<SourcePath>| {
            p.as_ref()
                .and_then(|p| resolve(p, root))
                .and_then(|v| scalar_text(&v))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        };
        control.sync_id = text_at(&ent.writeback.sync_id);
        control.sync_date = text_at(&ent.writeback.sync_date);
        if let Some(m) = &ent.matching {
            control.matches = match_values(resolve(&m.source, root).as_deref());
        }
        control.updated_at = text_at(&ent.updated_at.as_ref().map(|u| u.source.clone()));
        control
    }

    /// Evaluate a `map:` section against `rec`.
    fn section(
        &mut self,
        maps: &[FieldMapping],
        rec: &Map<String, Value>,
        owner: Owner,
    ) -> Section {
        let mut out = Section::default();
        let option_names = &self.compiler.entity.option_names;
        for fm in maps {
            let Some(value) = self.value(fm, rec) else {
                // Options keep their slot so every variant agrees on them.
                if let TargetSpec::Option(name) = &fm.target {
                    let name = self.option_name(name, option_names);
                    out.options.push((name.unwrap_or_default(), None));
                }
                continue;
            };
            match &fm.target {
                TargetSpec::Field { name, ty } => {
                    if let Some(v) = self.coerce(fm, name, *ty, &value) {
                        out.fields.insert(name.clone(), v);
                    }
                }
                TargetSpec::Metafield { namespace, key, ty } => {
                    if let Some(v) = self.metafield(fm, namespace, key, *ty, &value) {
                        out.metafields.push(v);
                    }
                }
                TargetSpec::MetafieldDescription { namespace, key } => {
                    if let Some(text) = as_text(&value) {
                        out.descriptions.push(MetafieldDescription {
                            namespace: namespace.clone(),
                            key: key.clone(),
                            description: text,
                        });
                    }
                }
                TargetSpec::Quantity { location } => {
                    if owner != Owner::Variant {
                        continue;
                    }
                    match to_int(&value) {
                        Some(q) => {
                            out.quantities.insert(location.clone(), q);
                        }
                        None => self.error(
                            codes::RECORD_QUANTITY,
                            Some(fm),
                            format!(
                                "`Quantity_{location}` is {}, not a whole number",
                                show(&value)
                            ),
                            "quantities are integers such as 0 or 12",
                        ),
                    }
                }
                TargetSpec::Option(name) => {
                    if owner != Owner::Variant {
                        continue;
                    }
                    let name = self.option_name(name, option_names);
                    out.options
                        .push((name.unwrap_or_default(), as_text(&value)));
                }
            }
        }
        out
    }

    /// The option's name; `None` when `option_names` gives an empty name.
    fn option_name(&self, name: &OptionName, option_names: &[SourcePath]) -> Option<String> {
        match name {
            OptionName::Named(n) => Some(n.clone()),
            OptionName::Index(i) => i
                .checked_sub(1)
                .and_then(|i| option_names.get(i))
                .and_then(|p| resolve(p, self.root))
                .and_then(|v| scalar_text(&v))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        }
    }

    /// Source, transforms, default. `None` = empty. Borrowed from the
    /// record when no transform changes it.
    fn value<'v>(
        &mut self,
        fm: &'v FieldMapping,
        rec: &'v Map<String, Value>,
    ) -> Option<Cow<'v, Value>> {
        let spec: &ValueSpec = &fm.value;
        let raw: Option<Cow<'v, Value>> = match &spec.source {
            ValueSource::Path(p) => resolve(p, rec),
            ValueSource::Literal(v) => Some(Cow::Borrowed(v)),
            ValueSource::Template(src) => self
                .render(fm, src, rec)
                .map(|s| Cow::Owned(Value::String(s))),
        };
        let mut v = raw.unwrap_or(Cow::Owned(Value::Null));
        for t in &spec.transforms {
            v = Cow::Owned(transform(t, v.into_owned()));
        }
        if is_empty(&v) {
            match &spec.default {
                Some(d) if !is_empty(d) => Some(Cow::Borrowed(d)),
                _ => None,
            }
        } else {
            Some(v)
        }
    }

    fn render(&mut self, fm: &FieldMapping, src: &str, rec: &Map<String, Value>) -> Option<String> {
        // Only formatted in error messages.
        let target = TargetName(&fm.target);
        let name = match self.compiler.templates.get(src) {
            Some(Ok(name)) => name.clone(),
            Some(Err(e)) => {
                let msg = format!("the template of `{target}` does not parse: {e}");
                self.error(codes::RECORD_TEMPLATE, Some(fm), msg, "fix the template");
                return None;
            }
            None => return None,
        };
        let tmpl = match self.compiler.env.get_template(&name) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!("the template of `{target}` is not available: {e}");
                self.error(codes::INTERNAL, Some(fm), msg, "please report this");
                return None;
            }
        };
        let ctx = match self.compiler.template_vars.get(&name) {
            // Only the variables the template reads, not the whole record.
            Some(vars) => minijinja::Value::from_iter(vars.iter().filter_map(|v| {
                rec.get(v)
                    .map(|x| (v.clone(), minijinja::Value::from_serialize(x)))
            })),
            None if std::ptr::eq(rec, self.root) => self
                .ctx_value
                .get_or_insert_with(|| minijinja::Value::from_serialize(rec))
                .clone(),
            None => minijinja::Value::from_serialize(rec),
        };
        match tmpl.render(ctx) {
            Ok(s) => Some(s),
            Err(e) => {
                let (msg, help) = match e.kind() {
                    minijinja::ErrorKind::UndefinedError => {
                        let mut missing: Vec<String> = tmpl
                            .undeclared_variables(false)
                            .into_iter()
                            .filter(|v| !rec.contains_key(v))
                            .collect();
                        missing.sort();
                        // Keep the variables that fail on their own (not
                        // those guarded by `default` or `is defined`).
                        let culprits: Vec<String> = missing
                            .iter()
                            .filter(|m| {
                                let mut ctx = rec.clone();
                                for other in missing.iter().filter(|o| o != m) {
                                    ctx.insert(other.clone(), Value::String(String::new()));
                                }
                                tmpl.render(minijinja::Value::from_serialize(&ctx))
                                    .is_err_and(|e| {
                                        e.kind() == minijinja::ErrorKind::UndefinedError
                                    })
                            })
                            .cloned()
                            .collect();
                        if !culprits.is_empty() {
                            missing = culprits;
                        }
                        let names = if missing.is_empty() {
                            "a variable".to_string()
                        } else {
                            missing
                                .iter()
                                .map(|m| format!("`{m}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        (
                            format!("the template of `{target}` uses {names}, which the record does not have"),
                            "add the field to the record, or write `{{ Name | default('') }}`",
                        )
                    }
                    minijinja::ErrorKind::OutOfFuel => (
                        format!(
                            "the template of `{target}` ran out of fuel (more than {} steps)",
                            mapsync_config::template::FUEL
                        ),
                        "simplify the template: loops over large lists are bounded",
                    ),
                    _ => (
                        format!("the template of `{target}` failed: {e}"),
                        "check the template against this record's fields",
                    ),
                };
                self.error(codes::RECORD_TEMPLATE, Some(fm), msg, help);
                None
            }
        }
    }

    fn coerce(&mut self, fm: &FieldMapping, name: &str, ty: FieldType, v: &Value) -> Option<Value> {
        let bad = |what: &str| format!("`{name}` gets {}, which is not {what}", show(v));
        let result: Result<Option<Value>, (String, &str)> = match ty {
            FieldType::Text | FieldType::Html | FieldType::ReadOnly => match as_text(v) {
                Some(t) => Ok(Some(Value::String(t))),
                None => Err((bad("text"), "map a text, number or list of texts")),
            },
            FieldType::Decimal => match scalar_text(v).and_then(|t| normalize_decimal(&t)) {
                Some(d) => Ok(Some(Value::String(d))),
                None => Err((bad("a decimal number"), "use a number such as 12.50")),
            },
            FieldType::Any => Ok((!v.is_null()).then(|| v.clone())),
            FieldType::Bool => match to_bool(v) {
                Some(b) => Ok(Some(Value::Bool(b))),
                None => Err((bad("a boolean"), "use true/false, 1/0 or yes/no")),
            },
            FieldType::List => {
                let items = text_list(v);
                if items.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(Value::Array(
                        items.into_iter().map(Value::String).collect(),
                    )))
                }
            }
            FieldType::Handle | FieldType::Country | FieldType::HsCode | FieldType::Enum(_) => {
                match scalar_text(v) {
                    None => Err((bad("a single value"), "map one text value")),
                    Some(t) => {
                        let t = t.trim();
                        match check_literal(ty, t) {
                            Err(msg) => Err((
                                format!("`{name}`: {msg}"),
                                "fix the value in the source or transform it",
                            )),
                            Ok(()) => Ok(Some(Value::String(match ty {
                                FieldType::Country => t.to_ascii_uppercase(),
                                FieldType::Enum(words) => words
                                    .iter()
                                    .find(|w| w.eq_ignore_ascii_case(t))
                                    .map(|w| (*w).to_string())
                                    .unwrap_or_else(|| t.to_string()),
                                _ => t.to_string(),
                            }))),
                        }
                    }
                }
            }
        };
        match result {
            Ok(v) => v,
            Err((msg, help)) => {
                self.error(codes::RECORD_VALUE, Some(fm), msg, help);
                None
            }
        }
    }

    fn metafield(
        &mut self,
        fm: &FieldMapping,
        namespace: &str,
        key: &str,
        ty: metafield::Type,
        v: &Value,
    ) -> Option<MetafieldValue> {
        let text = metafield_text(ty, v);
        if text.is_empty() {
            return None;
        }
        if let Err(msg) = metafield::check_value(ty, &text) {
            self.error(
                codes::RECORD_METAFIELD_VALUE,
                Some(fm),
                format!("metafield `{namespace}.{key}` ({ty}): {msg}"),
                "fix the value in the source, or change the metafield's type",
            );
            return None;
        }
        Some(MetafieldValue {
            namespace: namespace.to_string(),
            key: key.to_string(),
            ty: ty.type_name(),
            value: text,
        })
    }

    /// Images of one owner in the seed's order.
    fn images(
        &mut self,
        specs: &[ImageSpec],
        rec: &Map<String, Value>,
        variant: Option<&str>,
        first_only: bool,
    ) -> Vec<Image> {
        let mut order: Vec<&ImageSpec> = specs.iter().collect();
        order.sort_by_key(|s| kind_rank(s.kind)); // stable: declared order within a kind
        let mut out = Vec::new();
        for spec in order {
            let Some(from) = resolve(&spec.from, rec) else {
                continue;
            };
            let items: Vec<&Value> = match from.as_ref() {
                Value::Array(a) => a.iter().filter(|v| !is_empty(v)).collect(),
                other => vec![other],
            };
            let alt = spec.alt.as_ref().and_then(|p| resolve(p, rec));
            for (i, item) in items.into_iter().enumerate() {
                let src = match (&spec.rights.url, item) {
                    (Some(url), Value::Object(m)) => resolve(url, m)
                        .and_then(|v| as_text(&v))
                        .map(|s| s.trim().to_owned()),
                    _ => image_src(item),
                };
                let Some(src) = src.filter(|s| !s.is_empty()) else {
                    self.warn(
                        codes::RECORD_IMAGE,
                        format!(
                            "image from `{}` is {}, not a URL or data; it is dropped",
                            spec.from.display(),
                            show(item)
                        ),
                        "images are texts (URL or base64) or objects with `url`/`src`",
                    );
                    continue;
                };
                if let Value::Object(asset) = item {
                    if !self.licensed(spec, asset, &src) {
                        continue;
                    }
                }
                let alt = match alt.as_deref() {
                    Some(Value::Array(a)) => a.get(i).and_then(as_text),
                    Some(v) => as_text(v),
                    None => None,
                };
                out.push(Image {
                    kind: spec.kind,
                    src,
                    alt,
                    variant: variant.map(str::to_string),
                });
            }
        }
        if first_only {
            out.truncate(1);
        }
        out
    }

    /// Whether the asset object's usage rights let its image be sent on
    /// this run (two-way.md, "Usage rights and expiry"): not expired, and
    /// licensed for the profile's channel. Each image left out is a
    /// warning saying why.
    fn licensed(&mut self, spec: &ImageSpec, asset: &Map<String, Value>, src: &str) -> bool {
        let shown = short_src(src);
        if let Some(path) = &spec.rights.expires {
            let expiry = resolve(path, asset).filter(|v| !is_empty(v));
            if let Some(expiry) = expiry {
                let at = match expiry.as_ref() {
                    Value::Number(n) => n.as_f64().and_then(unix_instant),
                    v => as_text(v)
                        .as_deref()
                        .and_then(mapsync_core::value::parse_instant),
                };
                let Some(at) = at else {
                    self.warn(
                        codes::RECORD_IMAGE_RIGHTS,
                        format!(
                            "image {shown} is left out: its expiry `{}` = {} is not a date, so its rights are unknown",
                            path.display(),
                            show(&expiry)
                        ),
                        "write the expiry as RFC 3339 (2027-01-31T00:00:00Z), a date (2027-01-31) or seconds since 1970",
                    );
                    return false;
                };
                let now = self
                    .compiler
                    .run
                    .now
                    .unwrap_or_else(time::OffsetDateTime::now_utc);
                if at <= now {
                    self.warn(
                        codes::RECORD_IMAGE_LEFT_OUT,
                        format!(
                            "image {shown} is left out: its usage rights expired {}",
                            at.format(&time::format_description::well_known::Rfc3339)
                                .unwrap_or_default()
                        ),
                        "the target loses it on this run; renew its rights in the source to send it again",
                    );
                    return false;
                }
            }
        }
        if let (Some(path), Some(channel)) = (&spec.rights.channels, &self.compiler.run.channel) {
            let listed = resolve(path, asset)
                .map(|v| text_list(&v))
                .unwrap_or_default();
            let listed: Vec<String> = listed
                .iter()
                .flat_map(|t| t.split(','))
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect();
            if !listed.is_empty() && !listed.iter().any(|c| c == channel) {
                self.warn(
                    codes::RECORD_IMAGE_LEFT_OUT,
                    format!(
                        "image {shown} is left out: it is licensed for {} and not for channel `{channel}`",
                        listed.join(", ")
                    ),
                    "add the channel to the asset's channels in the source to send it here",
                );
                return false;
            }
        }
        true
    }

    fn variants(&mut self, doc: &mut Document) {
        let Some(vs) = &self.compiler.entity.variants else {
            return;
        };
        let root = self.root;
        let Some(list) = resolve(&vs.from, root) else {
            return;
        };
        let elems: Vec<&Map<String, Value>> = match list.as_ref() {
            Value::Object(m) => vec![m],
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for (i, e) in a.iter().enumerate() {
                    match e {
                        Value::Object(m) => out.push(m),
                        v if is_empty(v) => {}
                        v => self.error(
                            codes::RECORD_VARIANTS,
                            None,
                            format!(
                                "variant {} of `{}` is {}, not an object",
                                i + 1,
                                vs.from.display(),
                                kind_of(v)
                            ),
                            "each variant is an object of fields",
                        ),
                    }
                }
                out
            }
            v => {
                let msg = format!(
                    "`{}` is {}, not a list of variants",
                    vs.from.display(),
                    kind_of(v)
                );
                self.error(
                    codes::RECORD_VARIANTS,
                    None,
                    msg,
                    "point `variants.from` at a list of objects",
                );
                return;
            }
        };
        // Filter, then sort by position (stable).
        let mut kept: Vec<(PosKey, &Map<String, Value>)> = elems
            .into_iter()
            .filter(|e| vs.filter.as_ref().is_none_or(|f| resolve(f, e).is_some()))
            .map(|e| {
                let pos = vs.position.as_ref().and_then(|p| resolve(p, e));
                (PosKey::of(pos.as_deref()), e)
            })
            .collect();
        kept.sort_by(|a, b| a.0.cmp(&b.0));

        let mut sections = Vec::with_capacity(kept.len());
        for (_, e) in &kept {
            sections.push(self.section(&vs.fields, e, Owner::Variant));
        }
        // Options: names from the first variant's slots (all variants share
        // the declaration order); drop names that are empty, or whose values
        // are empty in every variant.
        let slots: Vec<String> = sections
            .first()
            .map(|s| s.options.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        let mut used: Vec<usize> = Vec::new();
        for (i, name) in slots.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            if sections
                .iter()
                .any(|s| s.options.get(i).is_some_and(|(_, v)| v.is_some()))
            {
                used.push(i);
            }
        }
        let names: Vec<String> = used.iter().filter_map(|i| slots.get(*i).cloned()).collect();
        let mut seen = HashSet::new();
        for n in &names {
            if !seen.insert(n.as_str()) {
                let msg = format!("product '{}' has two options named '{n}'", doc.key);
                self.error(
                    codes::RECORD_OPTIONS,
                    None,
                    msg,
                    "give each option its own name (check `option_names`)",
                );
            }
        }
        let max_options = self.compiler.limits.options;
        if names.len() > max_options {
            let msg = format!(
                "product '{}' has {} options ({}); the target allows at most {max_options}",
                doc.key,
                names.len(),
                names.join(", ")
            );
            self.error(
                codes::RECORD_OPTIONS,
                None,
                msg,
                "leave an `option_names` entry empty to drop an option, or map fewer",
            );
        }
        doc.options = names.clone();

        let mut keys = HashSet::new();
        for (n, ((_, elem), sec)) in kept.iter().zip(sections).enumerate() {
            let mut options = Vec::with_capacity(used.len());
            for (i, name) in used.iter().zip(&names) {
                match sec.options.get(*i).and_then(|(_, v)| v.clone()) {
                    Some(v) => options.push((name.clone(), v)),
                    None => {
                        let msg = format!(
                            "variant {} of product '{}' has no value for option '{name}'",
                            n + 1,
                            doc.key
                        );
                        self.error(
                            codes::RECORD_OPTIONS,
                            None,
                            msg,
                            "every variant needs a value for each option of its product",
                        );
                    }
                }
            }
            let key = match &vs.key {
                Some(p) => resolve(p, elem)
                    .and_then(|v| scalar_text(&v))
                    .map(|t| t.trim().to_string())
                    .unwrap_or_default(),
                None => options
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" / "),
            };
            if key.is_empty() {
                let msg = format!(
                    "variant {} of product '{}' has an empty key",
                    n + 1,
                    doc.key
                );
                self.error(
                    codes::RECORD_VARIANT_KEY,
                    None,
                    msg,
                    "give every variant a `key:` value or option values",
                );
            } else if !keys.insert(key.clone()) {
                let msg = format!(
                    "product '{}' has two variants with the key '{key}'",
                    doc.key
                );
                self.error(
                    codes::RECORD_VARIANT_KEY,
                    None,
                    msg,
                    "variant keys must be unique within a product",
                );
            }
            let imgs = self.images(&vs.images, elem, Some(&key), !vs.sync_all_images);
            doc.images.extend(imgs);
            doc.variants.push(VariantDoc {
                key,
                fields: sec.fields,
                options,
                quantities: sec.quantities,
                metafields: sec.metafields,
            });
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Top,
    Variant,
}

/// Variant ordering: numbers (numerically), then texts, then no position.
#[derive(Debug, Clone, PartialEq)]
enum PosKey {
    Num(f64),
    Text(String),
    Missing,
}

impl PosKey {
    fn of(v: Option<&Value>) -> PosKey {
        let Some(v) = v else { return PosKey::Missing };
        match v {
            Value::Number(n) => n.as_f64().map(PosKey::Num).unwrap_or(PosKey::Missing),
            other => match scalar_text(other) {
                Some(t) => match t.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => PosKey::Num(x),
                    _ => PosKey::Text(t),
                },
                None => PosKey::Missing,
            },
        }
    }

    fn rank(&self) -> u8 {
        match self {
            PosKey::Num(_) => 0,
            PosKey::Text(_) => 1,
            PosKey::Missing => 2,
        }
    }

    fn cmp(&self, other: &PosKey) -> std::cmp::Ordering {
        match (self, other) {
            (PosKey::Num(a), PosKey::Num(b)) => a.total_cmp(b),
            (PosKey::Text(a), PosKey::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

fn kind_rank(k: ImageKind) -> u8 {
    match k {
        ImageKind::Url | ImageKind::Embedded => 0,
        ImageKind::Field => 1,
        ImageKind::Attachment => 2,
    }
}

/// A mapping target as written (`title`, `Metafield|ns|key`...), shown in
/// messages: formatted only when a message is made.
struct TargetName<'a>(&'a TargetSpec);

impl std::fmt::Display for TargetName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            TargetSpec::Field { name, .. } => f.write_str(name),
            TargetSpec::Metafield { namespace, key, .. } => {
                write!(f, "Metafield|{namespace}|{key}")
            }
            TargetSpec::MetafieldDescription { namespace, key } => {
                write!(f, "Metafield|{namespace}|{key}@description")
            }
            TargetSpec::Quantity { location } => write!(f, "Quantity_{location}"),
            TargetSpec::Option(OptionName::Named(n)) => write!(f, "Option|{n}"),
            TargetSpec::Option(OptionName::Index(i)) => write!(f, "Option|{i}"),
        }
    }
}

/// Evaluate a path against a record. `None` = empty (missing, null, `""`,
/// `[]`). `[*]` collects a list of the non-empty values it reaches.
pub fn resolve<'r>(path: &SourcePath, rec: &'r Map<String, Value>) -> Option<Cow<'r, Value>> {
    let (first, rest) = path.segments.split_first()?;
    let start = rec.get(first.name.text.as_str())?;
    if path.is_collecting() {
        let mut out = Vec::new();
        walk_collect(start, &first.indexes, rest, &mut out);
        if out.is_empty() {
            None
        } else {
            Some(Cow::Owned(Value::Array(out.into_iter().cloned().collect())))
        }
    } else {
        let mut cur = start;
        cur = apply_indexes(cur, &first.indexes)?;
        for seg in rest {
            cur = cur.as_object()?.get(seg.name.text.as_str())?;
            cur = apply_indexes(cur, &seg.indexes)?;
        }
        if is_empty(cur) {
            None
        } else {
            Some(Cow::Borrowed(cur))
        }
    }
}

fn apply_indexes<'r>(mut cur: &'r Value, indexes: &[Index]) -> Option<&'r Value> {
    for ix in indexes {
        match ix {
            Index::At(n) => cur = cur.as_array()?.get(*n)?,
            Index::All => return None, // handled by walk_collect
        }
    }
    Some(cur)
}

fn walk_collect<'r>(cur: &'r Value, indexes: &[Index], rest: &[Segment], out: &mut Vec<&'r Value>) {
    match indexes.split_first() {
        Some((Index::At(n), more)) => {
            if let Some(next) = cur.as_array().and_then(|a| a.get(*n)) {
                walk_collect(next, more, rest, out);
            }
        }
        Some((Index::All, more)) => {
            if let Some(items) = cur.as_array() {
                for item in items {
                    walk_collect(item, more, rest, out);
                }
            }
        }
        None => match rest.split_first() {
            Some((seg, rest2)) => {
                if let Some(next) = cur.as_object().and_then(|m| m.get(seg.name.text.as_str())) {
                    walk_collect(next, &seg.indexes, rest2, out);
                }
            }
            None => {
                if !is_empty(cur) {
                    out.push(cur);
                }
            }
        },
    }
}

fn transform(t: &Transform, v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| transform(t, i))
                .filter(|i| !is_empty(i))
                .collect(),
        ),
        Value::String(s) => match t {
            Transform::Trim => Value::String(s.trim().to_string()),
            Transform::Lower => Value::String(s.to_lowercase()),
            Transform::Upper => Value::String(s.to_uppercase()),
            Transform::Split(sep) => {
                Value::Array(split_list(&s, sep).into_iter().map(Value::String).collect())
            }
        },
        Value::Number(n) if matches!(t, Transform::Split(_)) => {
            Value::Array(vec![Value::String(n.to_string())])
        }
        other => other,
    }
}

fn split_list(s: &str, sep: &str) -> Vec<String> {
    let parts: Vec<&str> = if sep.is_empty() {
        vec![s]
    } else {
        s.split(sep).collect()
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// A scalar as text (`None` for objects, lists and null).
/// The values of a `match:` path: a scalar, or each scalar of a list,
/// trimmed, non-empty, each once, in order.
fn match_values(v: Option<&Value>) -> Vec<String> {
    let items: Vec<&Value> = match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for t in items.into_iter().filter_map(scalar_text) {
        let t = t.trim();
        if !t.is_empty() && !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Text of a value: scalars as text, lists of scalars joined with `, `;
/// `None` for objects or when empty.
fn as_text(v: &Value) -> Option<String> {
    let t = match v {
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(scalar_text).collect();
            parts?.join(", ")
        }
        other => scalar_text(other)?,
    };
    if t.is_empty() {
        None
    } else {
        Some(t)
    }
}

/// A list of texts: a list's scalar elements, or a comma-separated text;
/// trimmed, empties dropped.
fn text_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(scalar_text)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        other => scalar_text(other)
            .map(|s| split_list(&s, ","))
            .unwrap_or_default(),
    }
}

fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => parse_bool(s),
        _ => None,
    }
}

fn to_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
                .map(|x| x as i64)
        }),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i64>().ok().or_else(|| {
                // "3.0" from spreadsheets.
                normalize_decimal(t).and_then(|d| d.parse::<i64>().ok())
            })
        }
        _ => None,
    }
}

fn metafield_text(ty: metafield::Type, v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => {
            if !ty.list && ty.base == Base::Boolean {
                parse_bool(s)
                    .map(|b| b.to_string())
                    .unwrap_or_else(|| s.clone())
            } else if ty.list && !s.trim_start().starts_with('[') {
                // A comma-separated text for a list type.
                let items: Vec<Value> = split_list(s, ",").into_iter().map(Value::String).collect();
                Value::Array(items).to_string()
            } else {
                s.clone()
            }
        }
        Value::Number(n) => {
            if ty.list {
                Value::Array(vec![v.clone()]).to_string()
            } else {
                n.to_string()
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
    }
}

fn image_src(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Object(m) => m
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("url") || k.eq_ignore_ascii_case("src"))
            .and_then(|(_, v)| v.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// An image's URL as a message shows it (embedded data cut short).
fn short_src(src: &str) -> String {
    let web = src.starts_with("http://") || src.starts_with("https://");
    let keep = if web { 120 } else { 40 };
    if src.chars().count() > keep {
        let head: String = src.chars().take(keep).collect();
        format!("`{head}…`")
    } else {
        format!("`{src}`")
    }
}

/// An instant from a number of seconds since 1970 (milliseconds when it
/// is that big, as JavaScript-made DAMs write them).
fn unix_instant(x: f64) -> Option<time::OffsetDateTime> {
    let secs = if x.abs() > 1e11 { x / 1000.0 } else { x };
    if !secs.is_finite() {
        return None;
    }
    time::OffsetDateTime::from_unix_timestamp(secs as i64).ok()
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A value for messages, shortened.
fn show(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        let short: String = s.chars().take(57).collect();
        format!("{short}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_minimal() {
        for (i, o) in [
            ("50", "50"),
            ("50.00", "50"),
            ("12.50", "12.5"),
            ("0012.5", "12.5"),
            (".5", "0.5"),
            ("-0.00", "0"),
            ("+3.10", "3.1"),
            ("1e3", "1000"),
            (" 7.0 ", "7"),
        ] {
            assert_eq!(normalize_decimal(i).as_deref(), Some(o), "{i}");
        }
        for bad in ["", ".", "abc", "1.2.3", "1,5", "inf", "NaN", "-"] {
            assert_eq!(normalize_decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn split_trims_and_drops_empties() {
        assert_eq!(split_list(" a, b,,c ", ","), vec!["a", "b", "c"]);
    }
}
