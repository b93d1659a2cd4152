//! Rendering a [`Plan`]: the Terraform-like human view (`+` create,
//! `~` update, `-` delete, `!` deactivate, `·` skip/unchanged (verbose
//! only), `x` invalid; grouped by entity; attribute diffs under each item;
//! a counts line), the JSON document of cli.md, an [`Explanation`] in
//! words, and the `--detailed-exitcode` value. Returns strings; printing
//! is the CLI's job. Colour only when asked.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as IoWrite;
use std::sync::mpsc;

use serde::ser::{Error as _, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::document::Entity;
use super::reconcile::{Action, Change, Explanation, Plan, PlanDiagnostic};
use super::spool::{DocumentSpool, SpoolError};
use mapsync_core::diff::{self as plan_diff, DiffEntry, DiffOp};
use mapsync_core::two_way::Action as TwoWayAction;

/// How to render.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colours.
    pub color: bool,
    /// Show skipped and unchanged items too.
    pub verbose: bool,
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// JSON serialisation failed.
    #[error("cannot write the plan as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing the output failed.
    #[error("cannot write the plan: {0}")]
    Io(#[from] std::io::Error),
    /// A document could not be read back from the spool.
    #[error(transparent)]
    Spool(#[from] super::spool::SpoolError),
    /// A thread computing create diffs stopped early (a bug).
    #[error("cannot write the plan: a thread computing create diffs stopped early; this is a bug, please report it with the command you ran")]
    Feed,
}

const RESET: &str = "\x1b[0m";

fn symbol(a: Action) -> (&'static str, &'static str) {
    match a {
        Action::Create => ("+", "\x1b[32m"),
        Action::Update => ("~", "\x1b[33m"),
        Action::Delete => ("-", "\x1b[31m"),
        Action::Deactivate => ("!", "\x1b[35m"),
        Action::Skip | Action::Unchanged => ("·", "\x1b[2m"),
        Action::Invalid => ("x", "\x1b[1;31m"),
    }
}

fn paint(o: RenderOptions, code: &str, s: &str) -> String {
    if o.color {
        format!("{code}{s}{RESET}")
    } else {
        s.to_string()
    }
}

fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "(none)".into(),
        serde_json::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn diff_line(o: RenderOptions, d: &DiffEntry) -> String {
    match d.op {
        DiffOp::Add => paint(
            o,
            "\x1b[32m",
            &format!("      + {} = {}", d.path, value(&d.after)),
        ),
        DiffOp::Remove => paint(
            o,
            "\x1b[31m",
            &format!("      - {} = {}", d.path, value(&d.before)),
        ),
        DiffOp::Change => paint(
            o,
            "\x1b[33m",
            &format!(
                "      ~ {}: {} -> {}",
                d.path,
                value(&d.before),
                value(&d.after)
            ),
        ),
    }
}

fn item_line(o: RenderOptions, c: &Change) -> String {
    let (sym, code) = symbol(c.action);
    let name = match (&c.key, &c.target_id) {
        (Some(k), Some(id)) => format!("{k} ({id})"),
        (Some(k), None) => k.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => "(no key)".into(),
    };
    let head = paint(o, code, &format!("  {sym} {} {name}", c.action.as_str()));
    format!("{head}  [{}] {}", c.rule, c.reason)
}

/// The human view.
pub fn human(plan: &Plan, o: RenderOptions) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail; the diffs are in the plan.
    let _ = write_human_with(
        plan,
        &mut |_, c| Ok(Cow::Borrowed(&c.diff[..])),
        o,
        &mut out,
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// The human view of a plan whose documents are in `docs` (creates get
/// their field diffs from them), written to `w` as it is produced.
pub fn write_human<W: IoWrite>(
    plan: &Plan,
    docs: &DocumentSpool,
    o: RenderOptions,
    w: &mut W,
) -> Result<(), RenderError> {
    let grouped = plan
        .changes
        .windows(2)
        .all(|p| p.first().map(|c| c.entity) <= p.get(1).map(|c| c.entity));
    std::thread::scope(|scope| {
        let mut cursor = DocCursor::start(scope, plan, docs);
        write_human_diffs(plan, &mut cursor, grouped, o, w)
    })
}

fn write_human_diffs<W: IoWrite>(
    plan: &Plan,
    cursor: &mut DocCursor,
    grouped: bool,
    o: RenderOptions,
    w: &mut W,
) -> Result<(), RenderError> {
    if grouped {
        // by_entity order is plan order: read the documents alongside.
        write_human_with(plan, &mut |i, c| cursor.diff(i, c), o, w)
    } else {
        let mut diffs = std::collections::HashMap::new();
        for (i, c) in plan.changes.iter().enumerate() {
            if let Cow::Owned(d) = cursor.diff(i, c)? {
                diffs.insert(i, d);
            }
        }
        write_human_with(
            plan,
            &mut |i, c| {
                Ok(match diffs.get(&i) {
                    Some(d) => Cow::Owned(d.clone()),
                    None => Cow::Borrowed(&c.diff[..]),
                })
            },
            o,
            w,
        )
    }
}

/// The create diffs of a plan, computed from its spooled documents ahead of
/// the writer and handed out in plan order. Reading a document back and
/// diffing it costs more than writing its JSON, so one thread reads the
/// spool and a pool of threads (one per core, at most 4) parses and diffs
/// chunks of documents while the caller writes.
struct DocCursor {
    rx: mpsc::Receiver<(u64, Vec<Fed>)>,
    pending: std::collections::BTreeMap<u64, Vec<Fed>>,
    next: u64,
    ready: std::vec::IntoIter<Fed>,
}

/// One create's diff: `None` when the spool has no document for it (the
/// plan's own diff is used).
type Fed = Option<Result<Vec<DiffEntry>, SpoolError>>;

/// Documents per chunk handed to a diff thread.
const FEED_CHUNK: usize = 64;

impl DocCursor {
    /// Starts the threads in `scope`; they stop when the cursor is dropped.
    fn start<'s, 'e: 's>(
        scope: &'s std::thread::Scope<'s, 'e>,
        plan: &'e Plan,
        docs: &'e DocumentSpool,
    ) -> DocCursor {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let (work_tx, work_rx) =
            mpsc::sync_channel::<(u64, Vec<Option<Result<Vec<u8>, SpoolError>>>)>(workers * 2);
        let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
        // Bounded: the threads stay a few chunks ahead of the writer. The
        // cursor drains the channel into `pending` while it waits for the
        // next chunk, so a full channel never blocks the chunk it waits for.
        let (done_tx, rx) = mpsc::sync_channel(workers * 2);
        scope.spawn(move || {
            // Each create and update change has the next document.
            let mut it = docs.iter();
            let mut seq = 0u64;
            let mut chunk = Vec::with_capacity(FEED_CHUNK);
            for c in &plan.changes {
                match c.action {
                    Action::Create => chunk.push(it.next_raw()),
                    Action::Update => it.skip_one(),
                    _ => continue,
                }
                if chunk.len() == FEED_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(FEED_CHUNK));
                    if work_tx.send((seq, full)).is_err() {
                        return;
                    }
                    seq += 1;
                }
            }
            if !chunk.is_empty() {
                let _ = work_tx.send((seq, chunk));
            }
        });
        for _ in 0..workers {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            scope.spawn(move || loop {
                let next = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((seq, chunk)) = next else { return };
                let diffs: Vec<Fed> = chunk
                    .into_iter()
                    .map(|line| {
                        line.map(|line| {
                            line.and_then(|l| docs.parse(&l))
                                .map(|d| plan_diff::diff_create(&d.document))
                        })
                    })
                    .collect();
                if done_tx.send((seq, diffs)).is_err() {
                    return;
                }
            });
        }
        DocCursor {
            rx,
            pending: std::collections::BTreeMap::new(),
            next: 0,
            ready: Vec::new().into_iter(),
        }
    }

    /// The next create's diff, in plan order.
    fn next_fed(&mut self) -> Result<Fed, RenderError> {
        loop {
            if let Some(fed) = self.ready.next() {
                return Ok(fed);
            }
            if let Some(chunk) = self.pending.remove(&self.next) {
                self.next += 1;
                self.ready = chunk.into_iter();
                continue;
            }
            match self.rx.recv() {
                Ok((seq, chunk)) => {
                    self.pending.insert(seq, chunk);
                }
                Err(_) => return Err(RenderError::Feed),
            }
        }
    }

    /// The diff of change `c` (called for every change, in plan order):
    /// computed from its document for a create, the plan's otherwise.
    fn diff<'c>(&mut self, _i: usize, c: &'c Change) -> Result<Cow<'c, [DiffEntry]>, RenderError> {
        match c.action {
            Action::Create => match self.next_fed()? {
                Some(d) => Ok(Cow::Owned(d?)),
                None => Ok(Cow::Borrowed(&c.diff[..])),
            },
            _ => Ok(Cow::Borrowed(&c.diff[..])),
        }
    }
}

type DiffOf<'p, 'f> =
    dyn FnMut(usize, &'p Change) -> Result<Cow<'p, [DiffEntry]>, RenderError> + 'f;

fn write_human_with<'p, W: IoWrite>(
    plan: &'p Plan,
    diff_of: &mut DiffOf<'p, '_>,
    o: RenderOptions,
    w: &mut W,
) -> Result<(), RenderError> {
    let mut line = String::new();
    for r in &plan.reads {
        match &r.since {
            Some(since) => writeln!(
                w,
                "{}: incremental read, records changed since {since} ({})",
                r.entity.as_str(),
                r.reason
            )?,
            None => writeln!(w, "{}: full read ({})", r.entity.as_str(), r.reason)?,
        }
    }
    // Change index of each change, grouped by entity in plan order.
    let mut groups: std::collections::BTreeMap<Entity, Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        groups.entry(c.entity).or_default().push(i);
    }
    for (entity, indices) in groups {
        // An unchanged item with a warning (an image left out...) is shown
        // for the warning's sake.
        let shown = |c: &Change| {
            o.verbose
                || !matches!(c.action, Action::Skip | Action::Unchanged)
                || !c.diagnostics.is_empty()
                || !c.drift.is_empty()
                || c.two_way.iter().any(|e| e.action != TwoWayAction::None)
        };
        if !indices
            .iter()
            .filter_map(|i| plan.changes.get(*i))
            .any(shown)
        {
            // Nothing shown, but the documents still pass by.
            for i in indices {
                if let Some(c) = plan.changes.get(i) {
                    diff_of(i, c)?;
                }
            }
            continue;
        }
        writeln!(w, "{}:", entity.as_str())?;
        for i in indices {
            let Some(c) = plan.changes.get(i) else {
                continue;
            };
            let diff = diff_of(i, c)?;
            if !shown(c) {
                continue;
            }
            line.clear();
            let _ = writeln!(line, "{}", item_line(o, c));
            for d in diff.iter() {
                let _ = writeln!(line, "{}", diff_line(o, d));
            }
            for e in c.two_way.iter().filter(|e| e.action != TwoWayAction::None) {
                let _ = writeln!(line, "{}", two_way_line(o, e));
            }
            for d in &c.drift {
                // `plan --drift` on an item the sync does not update.
                let outcome = if c.action == Action::Update {
                    d.outcome().to_string()
                } else {
                    format!(
                        "the record did not change, so the sync leaves it (`sync --force` would apply on_drift: {})",
                        d.on_drift.as_str()
                    )
                };
                let text = format!("      drift: {}; {outcome}", d.describe());
                let _ = writeln!(line, "{}", paint(o, "\x1b[35m", &text));
            }
            for d in &c.diagnostics {
                let _ = writeln!(line, "      {} {}: {}", d.severity, d.code, d.message);
            }
            w.write_all(line.as_bytes())?;
        }
        w.write_all(b"\n")?;
    }
    line.clear();
    for m in &plan.mass_delete {
        let _ = writeln!(
            line,
            "{}",
            paint(
                o,
                "\x1b[1;31m",
                &format!(
                    "Error: the plan removes {} of {} {} items; max_deletes {} allows {} (use --allow-mass-delete)",
                    m.planned,
                    m.target_items,
                    m.entity.as_str(),
                    m.limit,
                    m.allowed
                )
            )
        );
    }
    let drifted: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| !c.drift.is_empty())
        .collect();
    if !drifted.is_empty() {
        let fields: usize = drifted.iter().map(|c| c.drift.len()).sum();
        let _ = writeln!(
            line,
            "Drift: {fields} field(s) of {} item(s) edited in the store since mapsync wrote them.",
            drifted.len()
        );
    }
    let pulls: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.pulls().next().is_some())
        .collect();
    let held = plan
        .changes
        .iter()
        .filter(|c| c.two_way.iter().any(|e| e.action == TwoWayAction::Hold))
        .count();
    if !pulls.is_empty() || held > 0 {
        let fields: usize = pulls.iter().map(|c| c.pulls().count()).sum();
        let _ = writeln!(
            line,
            "Two-way: {fields} field(s) of {} item(s) to write back to the source; {held} item(s) held by a conflict.",
            pulls.len()
        );
    }
    let s = plan.summary;
    if s.has_changes() || s.invalid > 0 {
        let _ = writeln!(
            line,
            "Plan: {} to create, {} to update, {} to delete, {} to deactivate; {} unchanged, {} skipped, {} invalid.",
            s.create, s.update, s.delete, s.deactivate, s.unchanged, s.skip, s.invalid
        );
    } else {
        let _ = writeln!(
            line,
            "No changes. {} unchanged, {} skipped.",
            s.unchanged, s.skip
        );
    }
    w.write_all(line.as_bytes())?;
    Ok(())
}

/// The JSON document of cli.md for a plan whose documents are in `docs`,
/// pretty-printed to `w` as it is produced (creates get their field diffs
/// from the documents). The same bytes as [`json`] of the plan with those
/// diffs filled in.
pub fn write_json<W: IoWrite>(
    plan: &Plan,
    docs: &DocumentSpool,
    w: &mut W,
) -> Result<(), RenderError> {
    write_view(plan, docs, false, w)
}

/// A plan file (`plan --out`): the plan JSON plus the documents apply
/// needs, streamed to `w`. The same bytes as pretty-printing a
/// [`super::reconcile::PlanFile`] of the filled-in plan.
pub fn write_plan_file<W: IoWrite>(
    plan: &Plan,
    docs: &DocumentSpool,
    w: &mut W,
) -> Result<(), RenderError> {
    write_view(plan, docs, true, w)
}

/// The plan, pretty-printed with the create diffs from `docs`, and the
/// documents themselves when `with_documents`.
fn write_view<W: IoWrite>(
    plan: &Plan,
    docs: &DocumentSpool,
    with_documents: bool,
    w: &mut W,
) -> Result<(), RenderError> {
    std::thread::scope(|scope| {
        let view = PlanView {
            plan,
            cursor: RefCell::new(DocCursor::start(scope, plan, docs)),
            documents: with_documents.then_some(docs),
        };
        let mut ser = serde_json::Serializer::pretty(w);
        view.serialize(&mut ser)?;
        Ok(())
    })
}

/// A plan serialised with the create diffs read from the spool.
struct PlanView<'a> {
    plan: &'a Plan,
    cursor: RefCell<DocCursor>,
    /// Also write `documents` (plan files).
    documents: Option<&'a DocumentSpool>,
}

impl Serialize for PlanView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.plan;
        let mut st = s.serialize_struct("Plan", 8)?;
        st.serialize_field("format_version", &p.format_version)?;
        st.serialize_field("profile", &p.profile)?;
        st.serialize_field("created_at", &p.created_at)?;
        st.serialize_field("target_serial", &p.target_serial)?;
        st.serialize_field("summary", &p.summary)?;
        st.serialize_field("changes", &ChangesView(self))?;
        if !p.mass_delete.is_empty() {
            st.serialize_field("mass_delete", &p.mass_delete)?;
        }
        if !p.reads.is_empty() {
            st.serialize_field("reads", &p.reads)?;
        }
        if let Some(docs) = self.documents {
            st.serialize_field("documents", &DocumentsView(docs))?;
        }
        st.end()
    }
}

struct ChangesView<'v, 'a>(&'v PlanView<'a>);

impl Serialize for ChangesView<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let changes = &self.0.plan.changes;
        let mut seq = s.serialize_seq(Some(changes.len()))?;
        let mut cursor = self.0.cursor.borrow_mut();
        for (i, c) in changes.iter().enumerate() {
            let diff = cursor.diff(i, c).map_err(S::Error::custom)?;
            seq.serialize_element(&ChangeRef {
                entity: c.entity,
                key: &c.key,
                target_id: &c.target_id,
                action: c.action,
                rule: &c.rule,
                reason: &c.reason,
                diff: &diff,
                diagnostics: &c.diagnostics,
                drift: &c.drift,
                two_way: &c.two_way,
            })?;
        }
        seq.end()
    }
}

/// A [`Change`] with its diff given separately: the same JSON.
#[derive(Serialize)]
struct ChangeRef<'a> {
    entity: Entity,
    key: &'a Option<String>,
    target_id: &'a Option<String>,
    action: Action,
    rule: &'a str,
    reason: &'a str,
    diff: &'a [DiffEntry],
    diagnostics: &'a [PlanDiagnostic],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    drift: &'a [crate::reconcile::DriftEntry],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    two_way: &'a [crate::reconcile::TwoWayEntry],
}

struct DocumentsView<'a>(&'a DocumentSpool);

impl Serialize for DocumentsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for d in self.0.iter() {
            seq.serialize_element(&d.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

/// The JSON document of cli.md (`plan --format json`), pretty-printed.
pub fn json(plan: &Plan) -> Result<String, RenderError> {
    Ok(serde_json::to_string_pretty(plan)?)
}

/// `--explain KEY` in words.
pub fn explanation(e: &Explanation, o: RenderOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} — {} list",
        e.entity.as_str(),
        e.key.as_deref().unwrap_or("(no key)"),
        e.list
    );
    for (i, c) in e.checks.iter().enumerate() {
        let mark = if c.matched {
            paint(o, "\x1b[32m", "yes")
        } else {
            paint(o, "\x1b[2m", "no ")
        };
        let _ = writeln!(out, "  {:>2}. {mark} {}  ({})", i + 1, c.rule, c.why);
    }
    let _ = writeln!(out, "=> {} by {}", e.action.as_str(), e.rule);
    out
}

/// `--detailed-exitcode`: 2 when the plan changes the target, else 0.
pub fn detailed_exit_code(plan: &Plan) -> i32 {
    if plan.summary.has_changes() {
        2
    } else {
        0
    }
}

/// One two-way field of an item: `>` pushed, `<` pulled, `!` held.
fn two_way_line(o: RenderOptions, e: &crate::reconcile::TwoWayEntry) -> String {
    let show = crate::reconcile::show_value;
    let target = if e.target.is_null() && e.state != mapsync_core::two_way::FieldState::Conflict {
        "(as last synced)".to_string()
    } else {
        show(&e.target)
    };
    let resolved = match e.resolved {
        Some(side) => format!(", by `mapsync resolve --take {}`", side.as_str()),
        None => String::new(),
    };
    let (colour, text) = match e.action {
        TwoWayAction::Push => (
            "\x1b[32m",
            format!(
                "      > {}: {} -> {} (the source's value goes to the target{resolved})",
                e.field,
                target,
                show(&e.source)
            ),
        ),
        TwoWayAction::Pull => (
            "\x1b[36m",
            format!(
                "      < {}: {} -> {} (the target's value goes to the source's `{}`{resolved})",
                e.field,
                show(&e.source),
                target,
                e.source_path
            ),
        ),
        TwoWayAction::Hold | TwoWayAction::None => (
            "\x1b[1;31m",
            format!(
                "      ! {}: source {}, target {} (changed on both sides; held until `mapsync resolve`)",
                e.field,
                show(&e.source),
                target
            ),
        ),
    };
    paint(o, colour, &text)
}
