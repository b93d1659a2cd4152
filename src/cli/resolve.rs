//! `mapsync resolve KEY FIELD --take source|target`: a person's choice
//! for a field that flows both ways with `conflict: manual`
//! (docs/two-way.md, "Resolving a manual conflict"). The project and the
//! profile's mapping set are loaded and checked as for `plan`; the field
//! must be a mapped field of the entity with `direction: both` and
//! `conflict: manual` (else `resolve::not-manual`, or
//! `resolve::unknown-field` with a suggestion); the choice goes to the
//! profile's state store (SQLite or PostgreSQL), keyed by the field's
//! diff path, which is what a run's classification looks it up by
//! (`mapsync_plan::two_way::policies`).

use std::path::Path;
use std::process::ExitCode;

use mapsync_config::check::model::{EntityMapping, FieldMapping, MappingSet, TargetSpec};
use mapsync_core::diag::{codes, suggest, Diagnostic};
use mapsync_core::source::Entity;
use mapsync_core::two_way::{Conflict, Direction, Side};

use super::Format;

/// Options of `mapsync resolve`.
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The item's key (the value of the entity's `key:`, as the plan shows it).
    pub key: String,
    /// The field: its target as mapped (`vendor`,
    /// `Metafield|custom|material|single_line_text_field`) or its diff path
    /// (`metafields[custom.material]`).
    pub field: String,
    /// The side whose value is kept: `source` writes the source's value to
    /// the target, `target` writes the target's value to the source.
    #[arg(long, value_enum)]
    pub take: Take,
    /// The profile (default: the project's only profile).
    #[arg(long)]
    pub profile: Option<String>,
    /// The item's entity.
    #[arg(long, value_enum, default_value_t = EntityArg::Product)]
    pub entity: EntityArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `--take`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Take {
    /// Keep the source's value (it is written to the target).
    Source,
    /// Keep the target's value (it is written to the source).
    Target,
}

impl Take {
    fn side(self) -> Side {
        match self {
            Take::Source => Side::Source,
            Take::Target => Side::Target,
        }
    }
}

/// `--entity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EntityArg {
    /// A product.
    Product,
    /// A category (collection).
    Category,
}

impl EntityArg {
    fn entity(self) -> Entity {
        match self {
            EntityArg::Product => Entity::Product,
            EntityArg::Category => Entity::Category,
        }
    }
}

/// `mapsync resolve`.
pub fn resolve(project: Option<&Path>, args: ResolveArgs) -> anyhow::Result<ExitCode> {
    let name = match &args.profile {
        Some(p) => p.clone(),
        None => match only_profile(project)? {
            Ok(name) => name,
            Err(failure) => {
                eprint!(
                    "{}",
                    super::failure::render_diagnostic(
                        &failure,
                        failure.code,
                        super::render::color_stderr()
                    )
                );
                return Ok(ExitCode::from(1));
            }
        },
    };
    let profile = super::load_profile(project, &name)?;
    let (set, _files, diags) =
        mapsync_config::check::load_mapping(&profile.mapping, &profile.registry)?;
    if diags.has_errors() {
        super::print_diagnostics(&diags);
        anyhow::bail!("the mapping set has errors; run `mapsync validate` for details");
    }
    let entity = args.entity.entity();
    let field = match manual_field(&set, entity, &args.field) {
        Ok(path) => path,
        Err(d) => {
            eprintln!(
                "{}",
                super::render::diagnostic_hinted(&d, super::render::color_stderr(), 100)
            );
            return Ok(ExitCode::from(1));
        }
    };
    let take = args.take.side();
    let choice = mapsync_statedb::Resolution {
        entity,
        key: args.key.clone(),
        field: field.clone(),
        take,
        recorded_at: time::OffsetDateTime::now_utc(),
        // `resolve` reads neither side: the choice is for the field's next
        // conflict, whatever its values.
        source_hash: None,
        target_hash: None,
    };
    let pool = crate::engine::state_pool(&profile, 0)?;
    let channel = profile.channel.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (replaced, synced) = runtime.block_on(async {
        pool.connect().await?;
        let db = pool.take()?;
        let earlier = db
            .resolutions(&channel, entity, Some(vec![args.key.clone()]))
            .await?
            .into_iter()
            .find(|r| r.field == field)
            .map(|r| r.take);
        let synced = db.get(&channel, entity, &args.key).await?.is_some();
        db.record_resolution(&channel, choice.clone()).await?;
        pool.give(db);
        pool.close().await;
        Ok::<_, mapsync_statedb::StateError>((earlier, synced))
    })?;
    let what = match take {
        Side::Source => "the source's value (written to the target)",
        Side::Target => "the target's value (written to the source)",
    };
    match args.format {
        Format::Json => super::emit_json(&serde_json::json!({
            "profile": profile.name,
            "channel": channel,
            "entity": entity.as_str(),
            "key": args.key,
            "field": field,
            "take": take.as_str(),
            "recorded_at": choice
                .recorded_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            "replaced": replaced.map(Side::as_str),
            "synced_before": synced,
            "state": pool.describe(),
        }))?,
        Format::Human => {
            let replaced = match replaced {
                Some(side) if side == take => " (the same choice was recorded before)".to_string(),
                Some(side) => format!(" (replaces the earlier choice: {})", side.as_str()),
                None => String::new(),
            };
            outln!(
                "Recorded for {} {} `{}`: when the field is in conflict, the next two-way run keeps {what}{replaced}.",
                entity.as_str(),
                args.key,
                field
            );
        }
    }
    if !synced {
        eprintln!(
            "note: no {} `{}` has been synced on channel `{channel}` yet; the choice waits for it (check the key if it is a typo)",
            entity.as_str(),
            args.key
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The project's only profile, or the failure to print when it has none or
/// several (then `--profile` must say which).
fn only_profile(project: Option<&Path>) -> anyhow::Result<Result<String, super::failure::Failure>> {
    let file = super::project_file(project)?;
    let mut diags = mapsync_core::diag::Diagnostics::new();
    let loaded = crate::config::load_project(&file, &mut diags)?;
    if diags.has_errors() {
        super::print_diagnostics(&diags);
        anyhow::bail!("the project file has errors");
    }
    let names: Vec<String> = loaded
        .parsed
        .root
        .as_ref()
        .and_then(|r| r.get("profiles"))
        .and_then(|p| p.as_map())
        .unwrap_or(&[])
        .iter()
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
        .collect();
    Ok(match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(super::failure::Failure {
            code: codes::RUN_PROFILE.name,
            message: format!("{} defines no profile", file.display()),
            help: Some(
                "add a profile under `profiles:` (`mapsync init` writes a starter project)".into(),
            ),
        }),
        several => Err(super::failure::Failure {
            code: codes::RUN_PROFILE.name,
            message: format!(
                "{} has {} profiles; say which one the choice is for",
                file.display(),
                several.len()
            ),
            help: Some(format!(
                "add `--profile NAME`; the profiles are: {}",
                several.join(", ")
            )),
        }),
    })
}

/// A field's diff path, as `mapsync_plan::two_way` names it: only an
/// entity's own fields and metafields can flow back.
fn diff_path(target: &TargetSpec) -> Option<String> {
    match target {
        TargetSpec::Field { name, .. } => Some(name.clone()),
        TargetSpec::Metafield { namespace, key, .. } => {
            Some(format!("metafields[{namespace}.{key}]"))
        }
        _ => None,
    }
}

/// The field's key as written in the mapping file (unquoted).
fn written_key(f: &FieldMapping) -> Option<String> {
    let span = f.location.as_ref()?;
    let text = span.file.text.get(span.start..span.end)?.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')))
        .unwrap_or(text);
    (!text.is_empty()).then(|| text.to_string())
}

/// The names a field answers to: its key as written, its diff path.
fn names(f: &FieldMapping) -> Vec<String> {
    let mut out: Vec<String> = written_key(f).into_iter().collect();
    if let Some(p) = diff_path(&f.target) {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// How a field is named in messages: its key as written, else its diff path.
fn shown(f: &FieldMapping) -> String {
    names(f).into_iter().next().unwrap_or_else(|| "?".into())
}

/// The diff path of the entity's field `asked`, when it flows `both` with
/// `conflict: manual`; else the diagnostic saying why not.
fn manual_field(set: &MappingSet, entity: Entity, asked: &str) -> Result<String, Box<Diagnostic>> {
    let mapped = match entity {
        Entity::Product => set.product.as_ref(),
        Entity::Category => set.category.as_ref(),
    };
    let Some(mapped) = mapped else {
        return Err(Box::new(
            Diagnostic::error(
                codes::RESOLVE_UNKNOWN_FIELD,
                format!("the mapping set maps no {} entity", entity.as_str()),
            )
            .help(match entity {
                Entity::Category => "`--entity product` (the default) for a product's field",
                Entity::Product => "`--entity category` for a category's field",
            }),
        ));
    };
    let manual = manual_paths(mapped);
    let manual_list = |mapped: &EntityMapping| -> String {
        let shown: Vec<String> = mapped
            .fields
            .iter()
            .filter(|f| is_manual(f, &manual))
            .map(shown)
            .collect();
        if shown.is_empty() {
            format!(
                "the {} entity has no field with `direction: both` and `conflict: manual`",
                entity.as_str()
            )
        } else {
            format!(
                "the fields of {} resolved by a person (`conflict: manual`): {}",
                entity.as_str(),
                shown.join(", ")
            )
        }
    };
    let found = mapped
        .fields
        .iter()
        .find(|f| names(f).iter().any(|n| n == asked));
    let Some(f) = found else {
        let all: Vec<String> = mapped.fields.iter().flat_map(names).collect();
        let hint = match suggest(asked, all.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? "),
            None => String::new(),
        };
        return Err(Box::new(
            Diagnostic::error(
                codes::RESOLVE_UNKNOWN_FIELD,
                format!("the {} entity maps no field `{asked}`", entity.as_str()),
            )
            .help(format!("{hint}{}", manual_list(mapped))),
        ));
    };
    if is_manual(f, &manual) {
        if let Some(path) = diff_path(&f.target) {
            return Ok(path);
        }
    }
    let (why, at) = if f.direction != Direction::Both {
        (
            format!("it flows `{}`", f.direction.as_str()),
            f.direction_at.clone().or_else(|| f.location.clone()),
        )
    } else {
        (
            format!(
                "its conflicts are decided by `conflict: {}`",
                f.conflict.as_str()
            ),
            f.conflict_at.clone().or_else(|| f.location.clone()),
        )
    };
    Err(Box::new(Diagnostic::error(
        codes::RESOLVE_NOT_MANUAL,
        format!(
            "`{}` of {} is not resolved by a person: {why}, so no conflict of it is ever held for `mapsync resolve`",
            shown(f),
            entity.as_str()
        ),
    )
    .at_opt(at)
    .label("not `direction: both` with `conflict: manual`")
    .help(format!(
        "{}; to decide this field's conflicts by hand, map it with `direction: both` and `conflict: manual`",
        manual_list(mapped)
    ))))
}

/// The diff paths of the entity's `manual` fields, as a run keys them.
fn manual_paths(entity: &EntityMapping) -> Vec<String> {
    mapsync_plan::two_way::specs(entity)
        .into_iter()
        .filter(|s| s.policy.direction == Direction::Both && s.policy.conflict == Conflict::Manual)
        .map(|s| s.path)
        .collect()
}

fn is_manual(f: &FieldMapping, manual: &[String]) -> bool {
    f.direction == Direction::Both
        && f.conflict == Conflict::Manual
        && diff_path(&f.target).is_some_and(|p| manual.contains(&p))
}
