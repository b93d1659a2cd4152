//! Semantic checks of a mapping set (after the schema): expressions,
//! metafield rules, literal values, references between parts. Builds the
//! checked [`MappingSet`] from whatever is well-formed, and reports
//! everything else. Structural problems (types, unknown keys) are the
//! schema's; here they are skipped silently so nothing is reported twice.

use std::collections::HashMap;
use std::time::Duration;

use super::fields::{self, Context, FieldTable, FieldType};
use super::model::*;
use super::suggest;
use crate::connector::Registry;
use crate::metafield::{self, NameProblem, Part, Resolved};
use crate::yaml::{Kind, Node};
use mapsync_core::diag::{codes, Diagnostic, Diagnostics, Span};
use mapsync_core::rules::{On, Rule};
use mapsync_core::target::{Capabilities, Limits};
use mapsync_syntax::{self as syntax, OptionRef, SourcePath, Target};

/// Check a merged mapping set tree; `map:` keys are checked against the
/// field table its `target:` names among `registry`'s connectors.
pub fn check(root: &Node, registry: &Registry, diags: &mut Diagnostics) -> MappingSet {
    duplicate_keys(root, false, diags);
    let (target, caps) = target_kind(root, registry, diags);
    let limits = caps.map(|c| c.limits).unwrap_or_default();
    let mut set = MappingSet {
        name: root.get("name").and_then(Node::as_str).map(str::to_string),
        target,
        limits,
        rules: caps.map(|c| c.rules).unwrap_or_default(),
        compare: caps
            .map(|c| c.compare)
            .unwrap_or(mapsync_core::current::CompareRules::PLAIN),
        settings: settings(root.get("settings"), diags),
        ..MappingSet::default()
    };
    if let Some(locs) = root.get("locations").and_then(Node::as_map) {
        for (k, v) in locs {
            let Some(name) = k.as_str() else { continue };
            let r = if let Some(id) = v.get("id").and_then(Node::as_str) {
                LocationRef::Id(id.to_string())
            } else if let Some(n) = v.get("name").and_then(Node::as_str) {
                LocationRef::Name(n.to_string())
            } else {
                continue;
            };
            set.locations.insert(name.to_string(), r);
        }
    }
    let entities = root.get("entities");
    let rules = set.settings.metafield_rules;
    let mut cx = Cx {
        diags,
        rules,
        locations: &set.locations,
        fields: caps.map(|c| c.fields),
        limits,
        target_rules: caps.map(|c| c.rules).unwrap_or_default(),
        caps,
    };
    set.category = entities
        .and_then(|e| e.entry("category"))
        .and_then(|(k, n)| cx.entity(Entity::Category, k, n));
    set.product = entities
        .and_then(|e| e.entry("product"))
        .and_then(|(k, n)| cx.entity(Entity::Product, k, n));
    if set.category.is_none() && set.product.is_none() && root.get("entities").is_none() {
        let at = root
            .entry("mapsync")
            .and_then(|(k, _)| k.loc())
            .or_else(|| root.loc());
        diags.push(
            Diagnostic::warning(
                codes::MAPPING_NO_ENTITIES,
                "this mapping set maps no entity",
            )
            .at_opt(at)
            .label("no `entities:` in this mapping set")
            .help("add `entities: { product: { key: ..., map: { title: ... } } }`"),
        );
    }
    if let (Some(p), None) = (&set.product, &set.category) {
        if p.categories.is_some() {
            let at = entities
                .and_then(|e| e.get("product"))
                .and_then(|p| p.entry("categories"))
                .and_then(|(k, _)| k.loc());
            diags.push(
                Diagnostic::warning(
                    codes::ENTITY_CATEGORIES_WITHOUT_CATEGORY,
                    "products name categories, but no category entity is mapped",
                )
                .at_opt(at)
                .label("these keys relate to nothing")
                .help("map `entities.category` too: products relate only to categories known on both sides"),
            );
        }
    }
    if let Some(tests) = root.get("tests").and_then(Node::as_seq) {
        for t in tests {
            let Some(ent) = t.get("entity").and_then(Node::as_str) else {
                continue;
            };
            let kind = match ent {
                "category" => Entity::Category,
                "product" => Entity::Product,
                _ => continue,
            };
            let defined = match kind {
                Entity::Category => set.category.is_some(),
                Entity::Product => set.product.is_some(),
            };
            if !defined {
                diags.push(
                    Diagnostic::error(
                        codes::TEST_ENTITY_UNDEFINED,
                        format!("this test is for `{ent}`, which the mapping set does not map"),
                    )
                    .at_opt(t.get("entity").and_then(Node::loc))
                    .label("no such entity in `entities:`")
                    .help(format!("map `entities.{ent}` or change the test's entity")),
                );
                continue;
            }
            set.tests.push(TestCase {
                name: t
                    .get("name")
                    .and_then(Node::as_str)
                    .unwrap_or("")
                    .to_string(),
                entity: kind,
                input: t.get("input").map(Node::to_json).unwrap_or_default(),
                expect: t.get("expect").map(Node::to_json).unwrap_or_default(),
                two_way: t.get("two_way").map(Node::to_json),
                location: t.loc(),
            });
        }
    }
    set
}

/// The mapping set's `target:` word (by default the registry's first
/// target kind) and the capabilities (field table, limits) a registered
/// connector declares for it.
fn target_kind(
    root: &Node,
    registry: &Registry,
    diags: &mut Diagnostics,
) -> (String, Option<&'static Capabilities>) {
    let node = root.get("target");
    let kind = node
        .and_then(Node::as_str)
        .or(registry.default_kind())
        .unwrap_or_default()
        .to_string();
    let caps = registry.target_kind(&kind);
    if caps.is_none() {
        let kinds = registry.field_table_kinds();
        let help = match suggest(&kind, kinds.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "the targets this mapsync can write are: {}",
                kinds.join(", ")
            ),
        };
        diags.push(
            Diagnostic::error(
                codes::MAPPING_TARGET_KIND,
                format!("this mapping set is written for `{kind}`, which no target connector of this mapsync accepts"),
            )
            .at_opt(node.and_then(Node::loc).or_else(|| root.loc()))
            .label("unknown target kind")
            .help(help),
        );
    }
    (kind, caps)
}

/// Report keys that appear twice in one YAML mapping (except `map:`
/// mappings, whose duplicates are duplicate targets).
fn duplicate_keys(node: &Node, is_map_section: bool, diags: &mut Diagnostics) {
    match &node.kind {
        Kind::Map(entries) => {
            let mut seen: HashMap<String, &Node> = HashMap::new();
            for (k, v) in entries {
                if let Some(text) = k.scalar_text() {
                    if !is_map_section {
                        if let Some(first) = seen.get(&text) {
                            diags.push(
                                Diagnostic::error(
                                    codes::MAPPING_DUPLICATE_KEY,
                                    format!("`{text}` is defined twice"),
                                )
                                .at_opt(k.loc())
                                .label("defined again here")
                                .help(format!(
                                    "remove one of them; the first is at {}",
                                    describe(first.loc())
                                )),
                            );
                        } else {
                            seen.insert(text.clone(), k);
                        }
                    }
                    duplicate_keys(v, text == "map", diags);
                } else {
                    duplicate_keys(v, false, diags);
                }
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| duplicate_keys(i, false, diags)),
        _ => {}
    }
}

fn describe(loc: Option<Span>) -> String {
    match loc {
        Some(l) => {
            let (line, col) = l.file.line_col(l.start);
            format!("{}:{line}:{col}", l.file.name)
        }
        None => "another place".into(),
    }
}

/// Parse a duration such as `30s`, `15m`, `7d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        "w" => n.checked_mul(604_800)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

fn settings(node: Option<&Node>, diags: &mut Diagnostics) -> Settings {
    let mut s = Settings::default();
    let Some(node) = node else { return s };
    let get = |k: &str| node.get(k);
    if let Some(list) = get("sync").and_then(Node::as_seq) {
        let words: Vec<&str> = list.iter().filter_map(Node::as_str).collect();
        s.sync = SyncFlags {
            add: words.contains(&"add"),
            update: words.contains(&"update"),
            delete: words.contains(&"delete"),
            deactivate: words.contains(&"deactivate"),
        };
        if list.is_empty() {
            diags.push(
                Diagnostic::warning(
                    codes::SETTINGS_SYNC_EMPTY,
                    "`sync` is empty: a sync will never change anything",
                )
                .at_opt(get("sync").and_then(Node::loc))
                .label("no operation allowed")
                .help("list what a sync may do, e.g. `sync: [add, update, deactivate]`"),
            );
        }
        if s.sync.delete && s.sync.deactivate {
            diags.push(
                Diagnostic::warning(
                    codes::SETTINGS_DELETE_AND_DEACTIVATE,
                    "`sync` has both `delete` and `deactivate`: orphans are deactivated, never deleted",
                )
                .at_opt(get("sync").and_then(Node::loc))
                .label("`deactivate` wins over `delete`")
                .help("keep only the one you mean"),
            );
        }
    }
    if let Some(v) = get("change_detection").and_then(Node::as_str) {
        if v == "sync_date" {
            s.change_detection = ChangeDetection::SyncDate;
        }
    }
    if let Some(v) = get("data_max_age").and_then(Node::as_str) {
        s.data_max_age = parse_duration(v);
    }
    if let Some(v) = get("timeout")
        .and_then(Node::as_str)
        .and_then(parse_duration)
    {
        s.timeout = v;
        if v.is_zero() {
            diags.push(
                Diagnostic::error(
                    codes::SETTINGS_VALUE,
                    "`timeout` of zero would fail every request",
                )
                .at_opt(get("timeout").and_then(Node::loc))
                .label("zero")
                .help("use a timeout such as 30s"),
            );
        }
    }
    let flag = |k: &str| {
        get(k).and_then(|n| match n.kind {
            Kind::Bool(b) => Some(b),
            _ => None,
        })
    };
    s.update_unpublished = flag("update_unpublished").unwrap_or(false);
    s.keep_existing_variant_data = flag("keep_existing_variant_data").unwrap_or(false);
    s.on_drift = match get("on_drift").and_then(Node::as_str) {
        Some("keep") => mapsync_core::diff::OnDrift::Keep,
        Some("fail") => mapsync_core::diff::OnDrift::Fail,
        _ => mapsync_core::diff::OnDrift::Overwrite,
    };
    if get("ownership").and_then(Node::as_str) == Some("all") {
        s.ownership = Ownership::All;
    }
    if let Some(n) = get("max_deletes") {
        match &n.kind {
            Kind::Int(i) if *i >= 0 => s.max_deletes = Some(MaxDeletes::Count(*i as u64)),
            Kind::Str(p) => {
                if let Some(x) = p.strip_suffix('%').and_then(|x| x.parse::<f64>().ok()) {
                    if x > 100.0 {
                        diags.push(
                            Diagnostic::error(
                                codes::SETTINGS_VALUE,
                                format!("`max_deletes` of {p} is more than all items"),
                            )
                            .at_opt(n.loc())
                            .label("above 100%")
                            .help("use a percentage from 0% to 100%, or a number of items"),
                        );
                    } else {
                        s.max_deletes = Some(MaxDeletes::Percent(x));
                    }
                }
            }
            _ => {}
        }
    }
    let int = |k: &str| {
        get(k).and_then(|n| match n.kind {
            Kind::Int(i) if i > 0 => Some(i),
            _ => None,
        })
    };
    if let Some(v) = int("chunk_size") {
        s.chunk_size = v as usize;
    }
    if let Some(v) = int("concurrency") {
        s.concurrency = v as usize;
    }
    if let Some(Kind::Int(v)) = get("retries").map(|n| &n.kind) {
        s.retries = (*v).clamp(0, 20) as u32;
    }
    if let Some(r) = get("metafield_rules")
        .and_then(Node::as_str)
        .and_then(metafield::Rules::parse)
    {
        s.metafield_rules = r;
    }
    // `settings.<kind>`: the settings of one kind of target (the schema
    // says which kinds and keys exist).
    for (k, v) in node.as_map().unwrap_or(&[]) {
        let (Some(kind), Some(entries)) = (k.as_str(), v.as_map()) else {
            continue;
        };
        let options = entries
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.scalar_text()?)))
            .collect();
        s.target.insert(kind.to_string(), options);
    }
    s
}

/// A checked `map:` key: its spec and canonical name, or — when it is
/// wrong — the spec its value can still be checked against, if any.
type Checked = Result<(TargetSpec, String), Option<TargetSpec>>;

struct Cx<'a> {
    diags: &'a mut Diagnostics,
    rules: metafield::Rules,
    locations: &'a indexmap::IndexMap<String, LocationRef>,
    /// The target's field table (`None` when `target:` names no known
    /// kind; that is reported once and field names go unchecked).
    fields: Option<&'static FieldTable>,
    /// The target's limits on one item.
    limits: Limits,
    /// The target's pre-flight rules: `validate` warns where the mapping
    /// alone shows that a rule will refuse items.
    target_rules: &'static [Rule],
    /// The target's capabilities, for `match:` (`None` when `target:`
    /// names no known kind).
    caps: Option<&'static Capabilities>,
}

/// What one `map:` (one context) has seen, for cross-entry checks.
#[derive(Default)]
struct MapState {
    targets: HashMap<String, Option<Span>>,
    metafields: Vec<(String, String, Option<Span>)>,
    /// The type of each metafield value mapping, and where it is written.
    value_types: Vec<(String, String, metafield::Type, Option<Span>)>,
    /// `@description` mappings, with their explicit type if they name one.
    descriptions: Vec<(String, String, Option<Span>, Option<metafield::Type>)>,
    options: Vec<(String, Option<Span>)>,
}

impl Cx<'_> {
    fn path(&mut self, node: Option<&Node>) -> Option<SourcePath> {
        let node = node?;
        let text = node.as_str()?;
        match syntax::parse_path(text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(codes::SOURCE_SYNTAX, format!("bad source path: {}", e.message))
                        .at_opt(node.inner_loc(e.span.start, e.span.end))
                        .label(e.message.clone())
                        .help("write a field path such as `Name`, `Dimensions.Width`, `Variants[0].Sku` or `Images[*].Url`"),
                );
                None
            }
        }
    }

    fn entity(&mut self, kind: Entity, name: &Node, node: &Node) -> Option<EntityMapping> {
        node.as_map()?;
        let key = self.path(node.get("key"));
        if node.get("key").is_none() {
            let at = name.loc();
            self.diags.push(
                Diagnostic::error(
                    codes::ENTITY_KEY_MISSING,
                    format!("the {} entity has no `key`", kind.as_str()),
                )
                .at_opt(at)
                .label("needs `key:`")
                .help("name the source field that identifies each record uniquely, e.g. `key: ItemNo` (the seed's KeyField)"),
            );
        }
        let ctx = match kind {
            Entity::Category => Context::Category,
            Entity::Product => Context::Product,
        };
        let wb = node.get("writeback");
        let writeback = Writeback {
            sync_id: self.path(wb.and_then(|w| w.get("sync_id"))),
            sync_date: self.path(wb.and_then(|w| w.get("sync_date"))),
            sync_msg: self.path(wb.and_then(|w| w.get("sync_msg"))),
        };
        let option_names: Vec<SourcePath> = node
            .get("option_names")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(|n| self.path(Some(n)))
            .collect();
        if let Some(list) = node.get("option_names").and_then(Node::as_seq) {
            let max = self.limits.options;
            if list.len() > max {
                self.diags.push(
                    Diagnostic::error(
                        codes::OPTION_TOO_MANY,
                        format!(
                            "{} option names, but a product has at most {max} options",
                            list.len()
                        ),
                    )
                    .at_opt(list.get(max).and_then(Node::loc))
                    .label("one option too many")
                    .help(format!(
                        "the target allows {max} options per product; remove the extra names"
                    )),
                );
            }
        }
        let mut state = MapState::default();
        let fields = self.map(ctx, node.get("map"), &option_names, &mut state);
        self.require_title(kind, node, &state);
        let images = self.images(node.get("images"));
        if kind == Entity::Category && images.len() > 1 {
            let at = node
                .get("images")
                .and_then(Node::as_seq)
                .and_then(|s| s.get(1))
                .and_then(Node::loc);
            self.diags.push(
                Diagnostic::warning(
                    codes::IMAGE_CATEGORY_MULTIPLE,
                    "a collection has one image; only the first image is used",
                )
                .at_opt(at)
                .label("ignored")
                .help("keep one image entry for the category"),
            );
        }
        let variants = match (kind, node.entry("variants")) {
            (Entity::Product, Some((k, v))) if v.as_map().is_some() => {
                self.variants(k, v, &option_names, &mut state)
            }
            _ => None,
        };
        self.required_unmapped(kind, node, &state);
        self.families(kind, node);
        let matching = self.matching(kind, node, &fields, variants.as_ref());
        let updated_at = self.updated_at(node, &fields);
        let bool_of = |k: &str| matches!(node.get(k).map(|n| &n.kind), Some(Kind::Bool(true)));
        Some(EntityMapping {
            kind,
            key: key.unwrap_or(SourcePath {
                segments: Vec::new(),
            }),
            select: self.path(node.get("select")),
            mode: self.path(node.get("mode")),
            published: self.path(node.get("published")),
            categories: self.path(node.get("categories")),
            keep_deleted_metafields: bool_of("keep_deleted_metafields"),
            writeback,
            fields,
            images,
            option_names,
            variants,
            matching,
            updated_at,
        })
    }

    /// `direction:` and `conflict:` of a long-form value (two-way.md):
    /// a field flowing to the source needs a path to write to, untouched
    /// by transforms, and a field the target reads back as it was written;
    /// `conflict:` means something only with `direction: both`.
    fn two_way(
        &mut self,
        ctx: Context,
        k: &Node,
        v: &Node,
        spec: &TargetSpec,
        value: &ValueSpec,
    ) -> (Direction, Conflict) {
        let direction = v
            .get("direction")
            .and_then(Node::as_str)
            .and_then(Direction::parse)
            .unwrap_or_default();
        let conflict_node = v.get("conflict");
        let conflict = conflict_node
            .and_then(Node::as_str)
            .and_then(Conflict::parse)
            .unwrap_or_default();
        if let Some(c) = conflict_node {
            if direction != Direction::Both && conflict_node.and_then(Node::as_str).is_some() {
                self.diags.push(
                    Diagnostic::warning(
                        codes::TWO_WAY_CONFLICT_WITHOUT_BOTH,
                        format!(
                            "`conflict:` on a field flowing `{}`: only a field changed on both sides has a conflict",
                            direction.as_str()
                        ),
                    )
                    .at_opt(v.entry("conflict").and_then(|(key, _)| key.loc()))
                    .label("ignored")
                    .related(c.loc(), "never used")
                    .help("add `direction: both`, or remove `conflict:`"),
                );
            }
        }
        if let TargetSpec::Field {
            name,
            ty: FieldType::ReadOnly,
        } = spec
        {
            if direction != Direction::ToSource {
                let at = v.get("direction").and_then(Node::loc).or_else(|| k.loc());
                self.diags.push(
                    Diagnostic::error(
                        codes::TWO_WAY_READ_ONLY,
                        format!(
                            "`{name}` is made by the target, which never takes it: it can only flow `to_source`, not `{}`",
                            direction.as_str()
                        ),
                    )
                    .at_opt(at)
                    .label("read only")
                    .help(format!(
                        "write `{}: {{ from: FIELD, direction: to_source }}`: the target's value goes to the source's FIELD",
                        k.as_str().unwrap_or(name)
                    )),
                );
            }
        }
        if !direction.is_two_way() {
            return (direction, conflict);
        }
        let at = v.get("direction").and_then(Node::loc);
        let unreadable = match spec {
            TargetSpec::Quantity { .. } => {
                Some("an inventory quantity (stock moves with every sale)")
            }
            TargetSpec::MetafieldDescription { .. } => Some("a metafield definition's description"),
            TargetSpec::Option(_) => Some("a variant option (it names the variant)"),
            _ if ctx == Context::Variant => {
                Some("a variant field (two-way variant fields are not supported yet)")
            }
            _ => None,
        };
        if let Some(what) = unreadable {
            self.diags.push(
                Diagnostic::error(
                    codes::TWO_WAY_FIELD_UNSUPPORTED,
                    format!(
                        "`{}` cannot flow `{}`: it is {what}",
                        k.as_str().unwrap_or_default(),
                        direction.as_str()
                    ),
                )
                .at_opt(at.clone())
                .label("only `to_target` here")
                .help("remove `direction:` (the field flows to the target); two-way fields are the entity's own fields: title, vendor, tags, metafields..."),
            );
            return (Direction::ToTarget, conflict);
        }
        let path_only = matches!(value.source, ValueSource::Path(_)) && value.transforms.is_empty();
        if !path_only {
            let what = match value.source {
                ValueSource::Path(_) => {
                    "its value is transformed, and the target's value cannot be turned back"
                }
                ValueSource::Template(_) => {
                    "its value is a template, which names no source field to write to"
                }
                ValueSource::Literal(_) => {
                    "its value is a literal, which names no source field to write to"
                }
            };
            self.diags.push(
                Diagnostic::error(
                    codes::TWO_WAY_NEEDS_PATH,
                    format!(
                        "`{}` cannot flow `{}`: {what}",
                        k.as_str().unwrap_or_default(),
                        direction.as_str()
                    ),
                )
                .at_opt(at)
                .label("needs `from: PATH` alone")
                .help("map the field from a source path without `transform:` (`{ from: ShopUrl, direction: to_source }`), or remove `direction:`"),
            );
            return (Direction::ToTarget, conflict);
        }
        (direction, conflict)
    }

    /// `updated_at: { source: PATH, target: FIELD }`, and `conflict:
    /// newest` on a field of an entity without it.
    fn updated_at(&mut self, node: &Node, fields: &[FieldMapping]) -> Option<UpdatedAt> {
        let u = node.get("updated_at");
        let parsed = u.and_then(|u| {
            Some(UpdatedAt {
                source: self.path(u.get("source"))?,
                target: u.get("target")?.as_str()?.trim().to_string(),
                location: u.loc(),
            })
        });
        if u.is_none() {
            for f in fields {
                if f.direction != Direction::Both || f.conflict != Conflict::Newest {
                    continue;
                }
                let at = f.conflict_at.clone();
                self.diags.push(
                    Diagnostic::error(
                        codes::TWO_WAY_NEWEST_NEEDS_UPDATED_AT,
                        "`conflict: newest` needs to know when each side was last edited",
                    )
                    .at_opt(at)
                    .label("the entity has no `updated_at:`")
                    .help("say where each side keeps its last edit on the entity: `updated_at: { source: UpdatedAt, target: updatedAt }`, or choose another `conflict:`"),
                );
            }
        }
        parsed
    }

    /// `match:` of an entity: `match: PATH` (the target field is the one
    /// the entity's `map:`, or its variants' `map:` for a path into the
    /// variants list, maps that path to) or `match: { source: PATH,
    /// target: FIELD }`; the field must be one the target can find items
    /// by (`Capabilities::matchable`).
    fn matching(
        &mut self,
        kind: Entity,
        node: &Node,
        fields: &[FieldMapping],
        variants: Option<&Variants>,
    ) -> Option<MatchSpec> {
        let m = node.get("match")?;
        let (source_node, target_node) = if m.as_str().is_some() {
            (m, None)
        } else {
            (m.get("source")?, Some(m.get("target")?))
        };
        let source = self.path(Some(source_node))?;
        let (target, at) = match target_node {
            Some(t) => (t.as_str()?.to_string(), t.loc()),
            None => match mapped_field(&source, fields, variants) {
                Some(f) => (f, source_node.loc()),
                None => {
                    let p = source.display();
                    self.diags.push(
                        Diagnostic::error(
                            codes::MATCH_LONG_FORM,
                            format!(
                                "`match: {p}` names no target field: the {} entity maps `{p}` to none",
                                kind.as_str()
                            ),
                        )
                        .at_opt(source_node.loc())
                        .label("mapped to no field")
                        .help(format!(
                            "say which target field the identifier equals: `match: {{ source: {p}, target: sku }}`"
                        )),
                    );
                    return None;
                }
            },
        };
        if let Some(caps) = self.caps {
            let items = match kind {
                Entity::Category => "categories",
                Entity::Product => "products",
            };
            let known: Vec<&str> = caps.matchable_fields(kind).collect();
            if known.is_empty() {
                self.diags.push(
                    Diagnostic::error(
                        codes::MATCH_UNSUPPORTED,
                        format!(
                            "the `{}` target cannot find {items} by a field, so it cannot match them",
                            caps.kind
                        ),
                    )
                    .at_opt(node.entry("match").and_then(|(k, _)| k.loc()))
                    .label("not supported by this target")
                    .help("remove `match:`: items without a ledger row are created (give the source the target's ids with `writeback.sync_id` to link them)"),
                );
                return None;
            }
            if !known.contains(&target.as_str()) {
                let list = format!(
                    "the `{}` target can find {items} by: {}",
                    caps.kind,
                    known.join(", ")
                );
                let help = match suggest(&target, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? ({list})"),
                    None => list,
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::MATCH_UNKNOWN_FIELD,
                        format!(
                            "the `{}` target cannot find {items} by `{target}`",
                            caps.kind
                        ),
                    )
                    .at_opt(at)
                    .label("not a field items can be found by")
                    .help(help),
                );
                return None;
            }
        }
        Some(MatchSpec {
            source,
            target,
            location: m.loc(),
        })
    }

    fn require_title(&mut self, kind: Entity, node: &Node, state: &MapState) {
        if state.targets.contains_key("title") {
            return;
        }
        // A target taking free-form fields, or whose items have no
        // `title` field (their title is another field), names its own
        // required ones (and refuses an item without them).
        let ctx = match kind {
            Entity::Category => Context::Category,
            Entity::Product => Context::Product,
        };
        if self
            .fields
            .is_some_and(|t| fields::is_open(t, ctx) || fields::lookup(t, ctx, "title").is_none())
        {
            return;
        }
        let at = node
            .entry("map")
            .and_then(|(k, _)| k.loc())
            .or_else(|| node.loc());
        let what = match kind {
            Entity::Category => "a collection",
            Entity::Product => "a product",
        };
        self.diags.push(
            Diagnostic::error(
                codes::ENTITY_TITLE_MISSING,
                format!("the {} entity maps no `title`", kind.as_str()),
            )
            .at_opt(at)
            .label("no `title:` here")
            .help(format!(
                "the target cannot create {what} without a title; add e.g. `title: Name`"
            )),
        );
    }

    /// Fields the target requires (its `Required` rules) that the entity
    /// never maps: every create would be refused (a warning: the target
    /// may take a default). `title` of a closed table is
    /// `entity::title-missing`'s.
    /// Field families the target bounds (its `Family` rules, e.g. custom
    /// fields): more members mapped than it takes, or a member's name too
    /// long, would make every item that gives them a value invalid.
    fn families(&mut self, kind: Entity, node: &Node) {
        let on = match kind {
            Entity::Category => On::Category,
            Entity::Product => On::Product,
        };
        let Some(entries) = node.get("map").and_then(Node::as_map) else {
            return;
        };
        for rule in self.target_rules {
            let Rule::Family {
                on: r_on,
                prefix,
                max_count,
                max_name,
            } = *rule
            else {
                continue;
            };
            if r_on != on {
                continue;
            }
            let members: Vec<&Node> = entries
                .iter()
                .map(|(k, _)| k)
                .filter(|k| {
                    k.as_str()
                        .is_some_and(|t| t.len() > prefix.len() && t.starts_with(prefix))
                })
                .collect();
            if let Some(extra) = members.get(max_count) {
                self.diags.push(
                    Diagnostic::warning(
                        codes::ENTITY_FAMILY_LIMIT,
                        format!(
                            "the {} entity maps {} `{prefix}*` fields; the target takes at most {max_count}",
                            kind.as_str(),
                            members.len()
                        ),
                    )
                    .at_opt(extra.loc())
                    .label("one too many")
                    .help(format!(
                        "an item that gives more than {max_count} of them is invalid at `plan` (preflight::family); map fewer (metafields can hold the others)"
                    )),
                );
            }
            for k in &members {
                let name = k.as_str().unwrap_or("").get(prefix.len()..).unwrap_or("");
                if name.chars().count() > max_name {
                    self.diags.push(
                        Diagnostic::warning(
                            codes::ENTITY_FAMILY_LIMIT,
                            format!(
                                "the name of this `{prefix}*` field has {} characters; the target takes at most {max_name}",
                                name.chars().count()
                            ),
                        )
                        .at_opt(k.loc())
                        .label("name too long")
                        .help("every item that gives it a value is invalid at `plan` (preflight::family); shorten the name"),
                    );
                }
            }
        }
    }

    fn required_unmapped(&mut self, kind: Entity, node: &Node, state: &MapState) {
        let (on, ctx) = match kind {
            Entity::Category => (On::Category, Context::Category),
            Entity::Product => (On::Product, Context::Product),
        };
        let title_checked = self
            .fields
            .is_some_and(|t| !fields::is_open(t, ctx) && fields::lookup(t, ctx, "title").is_some());
        for rule in self.target_rules {
            let Rule::Required { on: r_on, field } = *rule else {
                continue;
            };
            if r_on != on
                || state.targets.contains_key(field)
                || (field == "title" && title_checked)
            {
                continue;
            }
            let at = node
                .entry("map")
                .and_then(|(k, _)| k.loc())
                .or_else(|| node.loc());
            self.diags.push(
                Diagnostic::warning(
                    codes::ENTITY_REQUIRED_UNMAPPED,
                    format!(
                        "the {} entity maps no `{field}`, which the target requires",
                        kind.as_str()
                    ),
                )
                .at_opt(at)
                .label(format!("no `{field}:` here"))
                .help(format!(
                    "every {} would be refused at `plan` (preflight::required); add e.g. `{field}: Name`",
                    kind.as_str()
                )),
            );
        }
    }

    fn variants(
        &mut self,
        name: &Node,
        node: &Node,
        option_names: &[SourcePath],
        product_state: &mut MapState,
    ) -> Option<Variants> {
        if node.get("from").is_none() {
            self.diags.push(
                Diagnostic::error(codes::VARIANTS_FROM_MISSING, "`variants` has no `from`")
                    .at_opt(name.loc())
                    .label("needs `from:`")
                    .help("name the list field holding the variants, e.g. `from: Variants`"),
            );
        }
        let from = self.path(node.get("from"));
        let mut state = MapState::default();
        let fields = self.map(Context::Variant, node.get("map"), option_names, &mut state);
        // Metafield case collisions are per owner; options count per product.
        product_state.options.extend(state.options.iter().cloned());
        self.variants_need_options(name, node, &state);
        let images = self.images(node.get("images"));
        Some(Variants {
            from: from?,
            filter: self.path(node.get("where")),
            key: self.path(node.get("key")),
            position: self.path(node.get("position")),
            sync_all_images: matches!(
                node.get("sync_all_images").map(|n| &n.kind),
                Some(Kind::Bool(true))
            ),
            fields,
            images,
        })
    }

    /// A target that tells variants apart by their option values refuses
    /// a product with several variants and no option: warn when the
    /// `variants:` block may give several (its `from` is not one fixed
    /// element) and maps no `Option|...`.
    fn variants_need_options(&mut self, name: &Node, node: &Node, state: &MapState) {
        // Without `from` there are no variants (variants::from-missing).
        if !self.target_rules.contains(&Rule::VariantsByOptions)
            || !state.options.is_empty()
            || node.get("from").is_none()
        {
            return;
        }
        // An `Option|...` that is itself wrong has its own error.
        let written = node.get("map").and_then(Node::as_map).is_some_and(|m| {
            m.iter().any(|(k, _)| {
                k.as_str()
                    .is_some_and(|t| t.trim_start().starts_with("Option|"))
            })
        });
        if written {
            return;
        }
        let one_element = node
            .get("from")
            .and_then(Node::as_str)
            .and_then(|t| syntax::parse_path(t).ok())
            .is_some_and(|p| {
                !p.is_collecting()
                    && p.segments
                        .last()
                        .is_some_and(|s| matches!(s.indexes.last(), Some(syntax::Index::At(_))))
            });
        if one_element {
            return;
        }
        self.diags.push(
            Diagnostic::warning(
                codes::VARIANTS_OPTIONS_MISSING,
                "`variants` may give a product several variants, but maps no option",
            )
            .at_opt(name.loc())
            .label("no `Option|...` in this `map:`")
            .help("the target tells variants apart by their option values: a product with more than one variant is invalid at `plan` (preflight::variants-by-options); map one, e.g. `\"Option|Size\": Size`"),
        );
    }

    fn images(&mut self, node: Option<&Node>) -> Vec<ImageSpec> {
        let mut out = Vec::new();
        for item in node.and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(from) = self.path(item.get("from")) else {
                continue;
            };
            let kind = match item.get("kind").and_then(Node::as_str) {
                Some("embedded") => ImageKind::Embedded,
                Some("field") => ImageKind::Field,
                Some("attachment") => ImageKind::Attachment,
                _ => ImageKind::Url,
            };
            out.push(ImageSpec {
                from,
                kind,
                alt: self.path(item.get("alt")),
                rights: ImageRights {
                    url: self.path(item.get("url")),
                    expires: self.path(item.get("expires")),
                    channels: self.path(item.get("channels")),
                },
            });
        }
        out
    }

    fn map(
        &mut self,
        ctx: Context,
        node: Option<&Node>,
        option_names: &[SourcePath],
        state: &mut MapState,
    ) -> Vec<FieldMapping> {
        let mut out = Vec::new();
        let Some(entries) = node.and_then(Node::as_map) else {
            return out;
        };
        for (k, v) in entries {
            let Some(text) = k.as_str() else { continue };
            let target = match syntax::parse_target(text) {
                Ok(t) => t,
                Err(e) => {
                    self.diags.push(
                        Diagnostic::error(
                            codes::TARGET_SYNTAX,
                            format!("bad target `{text}`: {}", e.message),
                        )
                        .at_opt(k.inner_loc(e.span.start, e.span.end))
                        .label(e.message.clone())
                        .help("a target is a field (`title`, `seo.title`), `Metafield|namespace|key|type`, `Quantity_<location>` or `Option|<name>`"),
                    );
                    continue;
                }
            };
            let (spec, canonical) = match self.target(ctx, k, &target, option_names, state) {
                Ok(checked) => checked,
                Err(typed) => {
                    // Still check the value so every problem is reported.
                    self.value(v, typed.as_ref());
                    continue;
                }
            };
            if let Some(first) = state.targets.get(&canonical) {
                self.diags.push(
                    Diagnostic::error(
                        codes::MAP_DUPLICATE_TARGET,
                        format!("`{canonical}` is mapped twice in {}", ctx.map_path()),
                    )
                    .at_opt(k.loc())
                    .label("mapped again here")
                    .help(format!(
                        "keep one mapping per target; the first is at {}",
                        describe(first.clone())
                    )),
                );
                continue;
            }
            state.targets.insert(canonical, k.loc());
            let Some(value) = self.value(v, Some(&spec)) else {
                continue;
            };
            let (direction, conflict) = self.two_way(ctx, k, v, &spec, &value);
            out.push(FieldMapping {
                target: spec,
                value,
                location: k.loc(),
                direction,
                conflict,
                direction_at: v.get("direction").and_then(Node::loc),
                conflict_at: v.get("conflict").and_then(Node::loc),
            });
        }
        // @description needs its value mapping.
        self.descriptions_have_values(node, state);
        // Case-insensitive collisions (the seed's `Metafield|Global|size` trap),
        // grouped by lower-cased name so large maps stay linear.
        let mut groups: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, (ns, key, _)) in state.metafields.iter().enumerate() {
            groups
                .entry((ns.to_ascii_lowercase(), key.to_ascii_lowercase()))
                .or_default()
                .push(i);
        }
        let mut pairs: Vec<(usize, usize)> = groups
            .values()
            .filter(|g| g.len() > 1)
            .flat_map(|g| {
                g.iter()
                    .enumerate()
                    .flat_map(move |(a, &i)| g.iter().skip(a + 1).map(move |&j| (i, j)))
            })
            .collect();
        pairs.sort_unstable();
        for (i, j) in pairs {
            let (ns, key, loc) = &state.metafields[i];
            let (ns2, key2, loc2) = &state.metafields[j];
            let same = ns == ns2 && key == key2;
            if !same {
                self.diags.push(
                    Diagnostic::warning(
                        codes::METAFIELD_CASE_COLLISION,
                        format!("metafields {ns}.{key} and {ns2}.{key2} differ only in letter case"),
                    )
                    .at_opt(loc2.clone())
                    .label("same name in another case")
                    .help(format!(
                        "namespaces and keys are case-sensitive, so these are two metafields; write both the same way if you meant one (the first is at {})",
                        describe(loc.clone())
                    )),
                );
            } else {
                self.diags.push(
                    Diagnostic::error(
                        codes::METAFIELD_CONFLICTING_TYPES,
                        format!("metafield {ns}.{key} is mapped twice with different types"),
                    )
                    .at_opt(loc2.clone())
                    .label("mapped again here")
                    .help(format!(
                        "a metafield has one type; keep one mapping (the first is at {})",
                        describe(loc.clone())
                    )),
                );
            }
        }
        let mut distinct: Vec<&str> = Vec::new();
        for (name, loc) in &state.options {
            if !distinct.contains(&name.as_str()) {
                distinct.push(name);
                let max = self.limits.options;
                if distinct.len() == max.saturating_add(1) {
                    self.diags.push(
                        Diagnostic::error(
                            codes::OPTION_TOO_MANY,
                            format!("more than {max} options: a product of this target has at most {max}"),
                        )
                        .at_opt(loc.clone())
                        .label("one option too many")
                        .help("remove an option mapping, or combine two options into one"),
                    );
                }
            }
        }
        out
    }

    /// Every `@description` needs a value mapping of the same metafield in
    /// the same `map:`, of the same type when it names one.
    fn descriptions_have_values(&mut self, node: Option<&Node>, state: &mut MapState) {
        for (ns, key, loc, explicit) in std::mem::take(&mut state.descriptions) {
            let values: Vec<_> = state
                .value_types
                .iter()
                .filter(|(n, k, _, _)| *n == ns && *k == key)
                .collect();
            if values.is_empty() {
                self.diags.push(
                    Diagnostic::error(
                        codes::METAFIELD_DESCRIPTION_WITHOUT_VALUE,
                        format!("`@description` of metafield {ns}.{key}, which is not mapped"),
                    )
                    .at(loc.unwrap_or_else(|| unreachable_loc(node)))
                    .label("describes a metafield that has no value mapping")
                    .help(format!(
                        "map the value too, e.g. `\"Metafield|{ns}|{key}|single_line_text_field\": SomeField`, in the same entity"
                    )),
                );
                continue;
            }
            let Some(ty) = explicit else { continue };
            // Several value types are already reported as conflicting.
            if values.iter().any(|(_, _, t, _)| *t == ty) {
                continue;
            }
            let (_, _, value_ty, value_at) = values[0];
            self.diags.push(
                Diagnostic::error(
                    codes::METAFIELD_CONFLICTING_TYPES,
                    format!(
                        "the `@description` of metafield {ns}.{key} says `{ty}`, its value mapping says `{value_ty}`"
                    ),
                )
                .at(loc.unwrap_or_else(|| unreachable_loc(node)))
                .label(format!("described as `{ty}`"))
                .related(value_at.clone(), format!("mapped as `{value_ty}`"))
                .help(format!(
                    "a metafield has one type: write `|{value_ty}@description`, or leave the type out of the `@description` key"
                )),
            );
        }
    }

    /// A plain field: known in the context's field table, with its type.
    fn field_target(
        &mut self,
        ctx: Context,
        k: &Node,
        name: String,
        variant_only: impl Fn(&mut Diagnostics, String),
    ) -> Checked {
        let Some(table) = self.fields else {
            // `target:` is unknown (reported once): nothing to check against.
            let spec = TargetSpec::Field {
                name: name.clone(),
                ty: FieldType::Text,
            };
            return Ok((spec, name));
        };
        if let Some(ty) = fields::lookup(table, ctx, &name) {
            let spec = TargetSpec::Field {
                name: name.clone(),
                ty,
            };
            return Ok((spec, name));
        }
        if ctx != Context::Variant && fields::lookup(table, Context::Variant, &name).is_some() {
            variant_only(self.diags, format!("`{name}`"));
            return Err(None);
        }
        let known = || fields::known(table, ctx);
        let help = match suggest(&name, known()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known().next().is_none() => match ctx {
                Context::Variant => format!(
                    "a `{}` target has no variants; remove `variants` (or map this to the product)",
                    table.kind
                ),
                _ => format!(
                    "a `{}` target takes no fields here; remove the mapping",
                    table.kind
                ),
            },
            None => format!(
                "known fields here: {}; or use `Metafield|namespace|key|type` for custom data",
                known().collect::<Vec<_>>().join(", ")
            ),
        };
        self.diags.push(
            Diagnostic::error(
                codes::TARGET_UNKNOWN_FIELD,
                format!("`{name}` is not a {} field", ctx.entity().as_str()),
            )
            .at_opt(k.loc())
            .label("unknown field")
            .help(help),
        );
        Err(None)
    }

    fn target(
        &mut self,
        ctx: Context,
        k: &Node,
        target: &Target,
        option_names: &[SourcePath],
        state: &mut MapState,
    ) -> Checked {
        let variant_only = |d: &mut Diagnostics, what: String| {
            d.push(
                Diagnostic::error(
                    codes::TARGET_VARIANT_ONLY,
                    format!(
                        "{what} belongs to variants, not to the {}",
                        ctx.entity().as_str()
                    ),
                )
                .at_opt(k.loc())
                .label("only allowed under `variants.map`")
                .help(if ctx == Context::Category {
                    "categories have no variants; remove this mapping".to_string()
                } else {
                    "move it under `entities.product.variants.map`".to_string()
                }),
            );
        };
        match target {
            Target::Field(path) => self.field_target(ctx, k, path.dotted(), variant_only),
            Target::Metafield(m) => self.metafield_target(k, m, state),
            Target::Quantity(loc) => {
                if ctx != Context::Variant {
                    variant_only(self.diags, format!("`Quantity_{}`", loc.text));
                    return Err(None);
                }
                self.quantity_target(k, loc)
            }
            Target::Option(opt) => {
                if ctx != Context::Variant {
                    let what = match opt {
                        OptionRef::Named(w) => format!("`Option|{}`", w.text),
                        OptionRef::Index(n, _) => format!("`Option|{n}`"),
                    };
                    variant_only(self.diags, what);
                    return Err(None);
                }
                self.option_target(k, opt, option_names, state)
            }
        }
    }

    /// `Metafield|namespace|key|type` (or `...@description`).
    fn metafield_target(
        &mut self,
        k: &Node,
        m: &syntax::Metafield,
        state: &mut MapState,
    ) -> Checked {
        let mut ok = true;
        for (part, word) in [(Part::Namespace, &m.namespace), (Part::Key, &m.key)] {
            for problem in metafield::check_name(self.rules, part, &word.text) {
                ok = false;
                self.name_problem(k, part, word, problem);
            }
        }
        if m.namespace.text == "mapsync" {
            ok = false;
            self.diags.push(
                Diagnostic::error(
                    codes::METAFIELD_MAPSYNC_NAMESPACE,
                    "the namespace `mapsync` is reserved for mapsync's ownership marker",
                )
                .at_opt(k.inner_loc(m.namespace.span.start, m.namespace.span.end))
                .label("reserved")
                .help("choose another namespace"),
            );
        }
        let ty = match &m.ty {
            None => metafield::Type::DEFAULT,
            Some(w) => match metafield::resolve_type(&w.text) {
                Resolved::Known { ty, deprecated } => {
                    if deprecated {
                        self.diags.push(
                            Diagnostic::warning(
                                codes::METAFIELD_DEPRECATED_TYPE,
                                format!(
                                    "metafield type `{}` is deprecated since {}",
                                    w.text,
                                    metafield::DEPRECATED_SINCE
                                ),
                            )
                            .at_opt(k.inner_loc(w.span.start, w.span.end))
                            .label("read as single_line_text_field")
                            .help("write `single_line_text_field` (or leave the type out)"),
                        );
                    }
                    ty
                }
                Resolved::Unknown(s) => {
                    let help = match s {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => {
                            format!("known types: {}", metafield::type_names().join(", "))
                        }
                    };
                    self.diags.push(
                        Diagnostic::error(
                            codes::METAFIELD_UNKNOWN_TYPE,
                            format!("unknown metafield type `{}`", w.text),
                        )
                        .at_opt(k.inner_loc(w.span.start, w.span.end))
                        .label("not a metafield type")
                        .help(help),
                    );
                    return Err(None);
                }
            },
        };
        if !ok {
            // The name is wrong, the type is not: the value is still
            // checked against it, so every problem is reported at once.
            return Err(Some(TargetSpec::Metafield {
                namespace: m.namespace.text.clone(),
                key: m.key.text.clone(),
                ty,
            }));
        }
        let (ns, key) = (m.namespace.text.clone(), m.key.text.clone());
        if m.description.is_some() {
            let explicit = m.ty.as_ref().map(|_| ty);
            state
                .descriptions
                .push((ns.clone(), key.clone(), k.loc(), explicit));
            let canonical = format!("Metafield|{ns}|{key}@description");
            return Ok((
                TargetSpec::MetafieldDescription { namespace: ns, key },
                canonical,
            ));
        }
        state.metafields.push((ns.clone(), key.clone(), k.loc()));
        let type_span =
            m.ty.as_ref()
                .and_then(|w| k.inner_loc(w.span.start, w.span.end));
        state
            .value_types
            .push((ns.clone(), key.clone(), ty, type_span.or_else(|| k.loc())));
        // Exact duplicates with different types are reported by the
        // metafield pass; the canonical name includes the type so
        // they do not also count as duplicate targets.
        let canonical = format!("Metafield|{ns}|{key}|{}", ty.type_name());
        Ok((
            TargetSpec::Metafield {
                namespace: ns,
                key,
                ty,
            },
            canonical,
        ))
    }

    /// `Quantity_<location>` of a declared reference location.
    fn quantity_target(&mut self, k: &Node, loc: &syntax::Word) -> Checked {
        if !self.locations.contains_key(&loc.text) {
            let help = match suggest(&loc.text, self.locations.keys().map(String::as_str)) {
                Some(s) => format!(
                    "did you mean `Quantity_{s}`? or declare `locations: {{ {}: {{ name: \"...\" }} }}`",
                    loc.text
                ),
                None => format!(
                    "declare it: `locations: {{ {}: {{ name: \"Warehouse name\" }} }}` (the seed's RefLoc_*)",
                    loc.text
                ),
            };
            self.diags.push(
                Diagnostic::error(
                    codes::QUANTITY_UNKNOWN_LOCATION,
                    format!("location `{}` is not declared under `locations:`", loc.text),
                )
                .at_opt(k.inner_loc(loc.span.start, loc.span.end))
                .label("unknown reference location")
                .help(help),
            );
            return Err(None);
        }
        Ok((
            TargetSpec::Quantity {
                location: loc.text.clone(),
            },
            format!("Quantity_{}", loc.text),
        ))
    }

    /// `Option|<name>` or `Option|<n>` (named by `option_names`).
    fn option_target(
        &mut self,
        k: &Node,
        opt: &OptionRef,
        option_names: &[SourcePath],
        state: &mut MapState,
    ) -> Checked {
        match opt {
            OptionRef::Named(w) => {
                state.options.push((w.text.clone(), k.loc()));
                Ok((
                    TargetSpec::Option(OptionName::Named(w.text.clone())),
                    format!("Option|{}", w.text),
                ))
            }
            OptionRef::Index(n, span) => {
                let n = *n as usize;
                let max = self.limits.options;
                if !(1..=max).contains(&n) {
                    self.diags.push(
                        Diagnostic::error(
                            codes::OPTION_INDEX,
                            format!("`Option|{n}` does not exist: options are numbered 1 to {max}"),
                        )
                        .at_opt(k.inner_loc(span.start, span.end))
                        .label(format!("not between 1 and {max}"))
                        .help(format!("a product of this target has at most {max} options: use Option|1 to Option|{max}")),
                    );
                    return Err(None);
                }
                if option_names.len() < n {
                    self.diags.push(
                        Diagnostic::error(
                            codes::OPTION_INDEX,
                            format!(
                                "`Option|{n}` takes its name from `option_names`, which has {} entr{}",
                                option_names.len(),
                                if option_names.len() == 1 { "y" } else { "ies" }
                            ),
                        )
                        .at_opt(k.inner_loc(span.start, span.end))
                        .label("no name for this option")
                        .help(format!(
                            "list {n} paths in `entities.product.option_names`, or write the name: `Option|Color`"
                        )),
                    );
                    return Err(None);
                }
                state.options.push((format!("#{n}"), k.loc()));
                Ok((
                    TargetSpec::Option(OptionName::Index(n)),
                    format!("Option|{n}"),
                ))
            }
        }
    }

    fn name_problem(&mut self, k: &Node, part: Part, word: &syntax::Word, problem: NameProblem) {
        let what = match part {
            Part::Namespace => "namespace",
            Part::Key => "key",
        };
        let rules = self.rules;
        let other = rules.switch_help();
        let d = match problem {
            NameProblem::Length(n, min, max) => Diagnostic::error(
                match part {
                    Part::Namespace => codes::METAFIELD_NAMESPACE_LENGTH,
                    Part::Key => codes::METAFIELD_KEY_LENGTH,
                },
                format!(
                    "metafield {what} '{}' is {n} characters; {} rules need {min} to {max}",
                    word.text,
                    rules.owner()
                ),
            )
            .at_opt(k.inner_loc(word.span.start, word.span.end))
            .label(format!("{n} characters"))
            .help(format!(
                "use a {} {what}, or {other}",
                if n < min { "longer" } else { "shorter" }
            )),
            NameProblem::Char(c, i) => {
                let byte = word.text.char_indices().nth(i).map(|(b, _)| b).unwrap_or(0);
                let start = word.span.start + byte;
                Diagnostic::error(
                    match part {
                        Part::Namespace => codes::METAFIELD_NAMESPACE_CHARS,
                        Part::Key => codes::METAFIELD_KEY_CHARS,
                    },
                    format!("metafield {what} '{}' contains `{c}`", word.text),
                )
                .at_opt(k.inner_loc(start, start + c.len_utf8()))
                .label("character not allowed")
                .help(format!(
                    "{} rules allow only {}; {other}",
                    rules.name(),
                    rules.chars_text()
                ))
            }
            NameProblem::Reserved => Diagnostic::error(
                codes::METAFIELD_NAMESPACE_RESERVED,
                format!("metafield namespace '{}' contains `--`", word.text),
            )
            .at_opt(k.inner_loc(word.span.start, word.span.end))
            .label("`--` is reserved")
            .help(metafield::RESERVED_HELP),
        };
        self.diags.push(d);
    }

    /// Parse a value; `spec` (when the target is valid) checks literals.
    fn value(&mut self, v: &Node, spec: Option<&TargetSpec>) -> Option<ValueSpec> {
        let (source, default, transforms) = match &v.kind {
            Kind::Null => {
                self.diags.push(
                    Diagnostic::error(codes::VALUE_MISSING, "this mapping has no value")
                        .at_opt(v.loc())
                        .label("empty")
                        .help("write a source path (`Name`), a literal (`\"'Acme'\"`), or remove the line"),
                );
                return None;
            }
            Kind::Bool(b) => (
                ValueSource::Literal(serde_json::Value::Bool(*b)),
                None,
                Vec::new(),
            ),
            Kind::Int(_) | Kind::Float(_) => (ValueSource::Literal(v.to_json()), None, Vec::new()),
            Kind::Str(s) => (self.string_value(v, s)?, None, Vec::new()),
            Kind::Map(_) => {
                let from = v.get("from");
                let template = v.get("template");
                let value = v.get("value");
                let n = [from, template, value]
                    .iter()
                    .filter(|x| x.is_some())
                    .count();
                if n != 1 {
                    self.diags.push(
                        Diagnostic::error(
                            codes::VALUE_LONG_FORM,
                            if n == 0 {
                                "the long form needs one of `from`, `template` or `value`"
                                    .to_string()
                            } else {
                                "the long form takes only one of `from`, `template` and `value`"
                                    .to_string()
                            },
                        )
                        .at_opt(v.loc())
                        .label(if n == 0 {
                            "no source"
                        } else {
                            "more than one source"
                        })
                        .help("write `from: Path`, `template: \"{{ ... }}\"` or `value: literal`"),
                    );
                    return None;
                }
                let source = if let Some(f) = from {
                    ValueSource::Path(self.path(Some(f))?)
                } else if let Some(t) = template {
                    let text = t.as_str()?;
                    self.template(t, text)?;
                    ValueSource::Template(text.to_string())
                } else {
                    ValueSource::Literal(value?.to_json())
                };
                let transforms = v
                    .get("transform")
                    .and_then(Node::as_seq)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|t| parse_transform(t.as_str()?))
                    .collect();
                (source, v.get("default").map(Node::to_json), transforms)
            }
            Kind::Seq(_) => return None,
        };
        if let Some(spec) = spec {
            if let ValueSource::Literal(lit) = &source {
                self.literal(v, spec, lit);
            }
            if let Some(d) = &default {
                self.literal(v, spec, d);
            }
        }
        Some(ValueSpec {
            source,
            default,
            transforms,
        })
    }

    fn string_value(&mut self, v: &Node, s: &str) -> Option<ValueSource> {
        if syntax::is_template(s) {
            self.template(v, s)?;
            return Some(ValueSource::Template(s.to_string()));
        }
        if s.trim().is_empty() {
            self.diags.push(
                Diagnostic::error(codes::VALUE_MISSING, "this mapping has an empty value")
                    .at_opt(v.loc())
                    .label("empty")
                    .help("write a source path (`Name`), a literal (`\"'Acme'\"`), or remove the line"),
            );
            return None;
        }
        match syntax::parse_source(s) {
            Ok(syntax::Source::Literal(w)) => {
                Some(ValueSource::Literal(serde_json::Value::String(w.text)))
            }
            Ok(syntax::Source::Path(p)) => Some(ValueSource::Path(p)),
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(codes::SOURCE_SYNTAX, format!("bad source path: {}", e.message))
                        .at_opt(v.inner_loc(e.span.start, e.span.end))
                        .label(e.message.clone())
                        .help("write a path (`Name`, `Variants[0].Sku`, `Images[*].Url`), a literal in single quotes inside the YAML string (`\"'Acme'\"`), or a template (`\"{{ Name }}\"`)"),
                );
                None
            }
        }
    }

    fn template(&mut self, v: &Node, s: &str) -> Option<()> {
        let env = crate::template::environment();
        match env.template_from_str(s) {
            Ok(_) => Some(()),
            Err(e) => {
                let range = e.range().unwrap_or(0..s.len());
                let detail = e.detail().unwrap_or("syntax error").to_string();
                self.diags.push(
                    Diagnostic::error(codes::TEMPLATE_SYNTAX, format!("template syntax error: {detail}"))
                        .at_opt(v.inner_loc(range.start, range.end.max(range.start + 1).min(s.len())))
                        .label(detail)
                        .help("templates use minijinja (Jinja2) syntax: `{{ Field }}`, `{{ Field | default('x') }}`, `{% if Field %}...{% endif %}`"),
                );
                None
            }
        }
    }

    fn literal(&mut self, v: &Node, spec: &TargetSpec, lit: &serde_json::Value) {
        let text = match lit {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let problem = match spec {
            TargetSpec::Field { ty, .. } => fields::check_literal(*ty, &text).err(),
            TargetSpec::Metafield { ty, .. } => metafield::check_value(*ty, &text).err(),
            TargetSpec::Quantity { .. } => match text.trim().parse::<i64>() {
                Ok(_) => None,
                Err(_) => Some(format!(
                    "'{text}' is not a whole number; quantities are integers"
                )),
            },
            TargetSpec::MetafieldDescription { .. } | TargetSpec::Option(_) => None,
        };
        if let Some(problem) = problem {
            let what = match spec {
                TargetSpec::Field { name, .. } => format!("`{name}`"),
                TargetSpec::Metafield { namespace, key, ty } => {
                    format!("metafield {namespace}.{key} ({ty})")
                }
                TargetSpec::Quantity { location } => format!("`Quantity_{location}`"),
                _ => "this target".into(),
            };
            self.diags.push(
                Diagnostic::error(
                    codes::VALUE_INVALID_LITERAL,
                    format!("invalid literal for {what}: {problem}"),
                )
                .at_opt(v.loc())
                .label("invalid for this target")
                .help("fix the literal, or map a source field instead"),
            );
        }
    }
}

fn parse_transform(s: &str) -> Option<Transform> {
    match s {
        "trim" => Some(Transform::Trim),
        "lower" => Some(Transform::Lower),
        "upper" => Some(Transform::Upper),
        _ => {
            let inner = s.strip_prefix("split(\"")?.strip_suffix("\")")?;
            Some(Transform::Split(inner.to_string()))
        }
    }
}

fn unreachable_loc(node: Option<&Node>) -> Span {
    node.and_then(Node::loc).unwrap_or_else(|| {
        Span::new(
            &mapsync_core::diag::SourceFile::new("<unknown>", String::new()),
            0,
            0,
        )
    })
}

/// The plain target field `map:` maps `path` to: an entry of the entity
/// whose value is that path, or, for a path into the variants list
/// (`Variants[*].Sku`), a variant entry whose value is the rest of it.
fn mapped_field(
    path: &SourcePath,
    fields: &[FieldMapping],
    variants: Option<&Variants>,
) -> Option<String> {
    fn field_of(fields: &[FieldMapping], want: &str) -> Option<String> {
        fields
            .iter()
            .find_map(|fm| match (&fm.target, &fm.value.source) {
                (TargetSpec::Field { name, .. }, ValueSource::Path(p)) if p.display() == want => {
                    Some(name.clone())
                }
                _ => None,
            })
    }
    let text = path.display();
    field_of(fields, &text).or_else(|| {
        let v = variants?;
        let rest = text.strip_prefix(&format!("{}[*].", v.from.display()))?;
        field_of(&v.fields, rest)
    })
}
