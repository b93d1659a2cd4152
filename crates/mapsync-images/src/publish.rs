//! `images publish`: each manifest line's action through the target's
//! image port, image by image: the writes of one product in manifest
//! order, several products at a time.
//!
//! For every line that is not `skip`, the file (`edited_file`, else for a
//! `copy` the pulled `file`) is read and hashed, then:
//!
//! * an item already recorded as done in the state store (channel, image
//!   or product, action, hash) is not looked at again;
//! * `overwrite` of a file identical to the pulled one, or of an image the
//!   store already shows as that file, sends nothing;
//! * `append` / `copy` to a product that had the file when pulled (the
//!   manifest's hashes), or that shows it now (its name carries the hash),
//!   send nothing — so a publish resumed after a lost answer, or run again
//!   without its state store, multiplies no image;
//! * otherwise the port writes it (a file used by several lines is
//!   uploaded once: [`crate::uploads`]), and the item is recorded as done.
//!
//! `dry_run` reads the products but writes nothing: each entry says what
//! would happen. One line's failure never stops the others.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt as _;
use mapsync_core::image::ImageFormat;
use mapsync_core::images::{ImageFile, ImageStore, ProductImages, StoreImage};
use mapsync_core::target::{ErrorKind, Uploads};
use mapsync_statedb::StateDb;
use serde::Serialize;
use tracing::{info, warn};

use crate::manifest::{self, Action, Line};
use crate::uploads::FileUploads;
use crate::{sha256_hex, ImagesError, Progress};

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The manifest (files are relative to its folder).
    pub manifest: PathBuf,
    /// Say what would happen; write nothing.
    pub dry_run: bool,
    /// The state store's channel of the target (the profile's).
    pub channel: String,
}

/// What happened to one line (or one `copy_to` product of a line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `skip`: nothing to do.
    Skipped,
    /// The store already holds the file: no request.
    Unchanged,
    /// Recorded as done by an earlier publish: no request.
    Done,
    /// The image was replaced.
    Overwritten,
    /// The file was added to the product.
    Appended,
    /// `dry_run`: would be replaced.
    WouldOverwrite,
    /// `dry_run`: would be added.
    WouldAppend,
    /// The line failed (see its message).
    Failed,
}

impl Outcome {
    /// Whether the store was written.
    pub fn wrote(self) -> bool {
        matches!(self, Outcome::Overwritten | Outcome::Appended)
    }
}

/// One entry of the publish log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// 1-based manifest line.
    pub line: usize,
    /// The line's action.
    pub action: Action,
    /// The line's product.
    pub product_key: String,
    /// The line's image.
    pub image_id: String,
    /// The product written to (a `copy_to` key for a copy).
    pub target: String,
    /// What happened.
    pub outcome: Outcome,
    /// SHA-256 of the file published.
    pub sha256: Option<String>,
    /// Why it failed, or a note.
    pub message: Option<String>,
    /// The failure's kind.
    pub error_kind: Option<ErrorKind>,
    /// Store requests it cost.
    pub requests: u32,
}

/// The log of a publish.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    /// Whether nothing was written on purpose.
    pub dry_run: bool,
    /// One entry per line (per `copy_to` product for copies).
    pub entries: Vec<Entry>,
    /// Entries that wrote to the store.
    pub written: usize,
    /// Entries that failed.
    pub failed: usize,
    /// Store requests in all.
    pub requests: u64,
}

/// Why one item failed: its kind and message.
struct ItemFailure {
    kind: ErrorKind,
    message: String,
}

impl ItemFailure {
    fn new(kind: ErrorKind, message: impl Into<String>) -> ItemFailure {
        ItemFailure {
            kind,
            message: message.into(),
        }
    }
}

impl From<mapsync_core::target::TargetError> for ItemFailure {
    fn from(e: mapsync_core::target::TargetError) -> Self {
        ItemFailure::new(e.kind, e.to_string())
    }
}

/// The publish of one manifest, with what it has learnt of the store.
struct Publisher<'a> {
    store: &'a dyn ImageStore,
    /// Files uploaded so far (shared by every product's writes).
    uploads: Uploads,
    state: Option<&'a StateDb>,
    options: &'a PublishOptions,
    base: PathBuf,
    /// Products read so far by key (`None`: not in the store), kept up to
    /// date with this publish's writes.
    products: HashMap<String, Option<ProductImages>>,
    /// The hashes of each product's images as pulled (the manifest's).
    pulled: &'a HashMap<String, HashSet<String>>,
}

/// One write of a line: the line's own product, or one `copy_to` product.
struct Work<'l> {
    /// 1-based manifest line.
    n: usize,
    line: &'l Line,
    /// The product written.
    target: String,
    /// Its place among the line's entries.
    order: usize,
}

/// Publishes the manifest's actions through `store`, recording progress
/// in `state` when there is one. The writes of one product go one after
/// the other, in manifest order; products go in parallel, at most
/// [`ImageStore::parallelism`] at a time. The log is in manifest order.
pub async fn publish(
    store: &dyn ImageStore,
    state: Option<&StateDb>,
    options: &PublishOptions,
    progress: &dyn Progress,
) -> Result<PublishReport, ImagesError> {
    let lines = manifest::read(&options.manifest)?;
    let base = options
        .manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut entries: Vec<(usize, usize, Entry)> = Vec::new();
    // Writes by product, products in order of first appearance.
    let mut groups: Vec<Vec<Work<'_>>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if line.action == Action::Skip {
            entries.push((n, 0, entry(n, line, &line.product_key, Outcome::Skipped)));
            continue;
        }
        let targets: Vec<String> = match line.action {
            Action::Copy => line.copy_to.clone(),
            _ => vec![line.product_key.clone()],
        };
        if targets.is_empty() {
            entries.push((
                n,
                0,
                Entry {
                    message: Some("`copy` with an empty `copy_to`: nothing to copy to".into()),
                    error_kind: Some(ErrorKind::Refused),
                    ..entry(n, line, &line.product_key, Outcome::Failed)
                },
            ));
            continue;
        }
        for (order, target) in targets.into_iter().enumerate() {
            let g = *group_of.entry(target.clone()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(Work {
                n,
                line,
                target,
                order,
            });
        }
    }
    let total = entries.len() + groups.iter().map(Vec::len).sum::<usize>();
    progress.start(total as u64);
    for _ in &entries {
        progress.step(None);
    }
    let base = &base;
    let mut pulled: HashMap<String, HashSet<String>> = HashMap::new();
    for l in &lines {
        if let Some(h) = &l.sha256 {
            pulled
                .entry(l.product_key.clone())
                .or_default()
                .insert(h.clone());
        }
    }
    let pulled = &pulled;
    let uploads = Uploads::new(Arc::new(FileUploads::new(
        state.cloned(),
        options.channel.clone(),
    )));
    let uploads = &uploads;
    let mut runs = futures::stream::iter(groups.into_iter().map(|work| async move {
        let mut p = Publisher {
            store,
            uploads: uploads.clone(),
            state,
            options,
            base: base.clone(),
            products: HashMap::new(),
            pulled,
        };
        let mut out = Vec::with_capacity(work.len());
        for w in work {
            let e = p.write(&w).await?;
            progress.step((e.outcome == Outcome::Failed).then_some(w.line.image_id.as_str()));
            out.push((w.n, w.order, e));
        }
        Ok::<_, ImagesError>(out)
    }))
    .buffer_unordered(store.parallelism().max(1));
    while let Some(done) = runs.next().await {
        entries.extend(done?);
    }
    drop(runs);
    entries.sort_by_key(|(n, order, _)| (*n, *order));
    let mut report = PublishReport {
        dry_run: options.dry_run,
        ..PublishReport::default()
    };
    for (_, _, e) in entries {
        report.requests += u64::from(e.requests);
        if e.outcome.wrote() {
            report.written += 1;
        }
        if e.outcome == Outcome::Failed {
            report.failed += 1;
        }
        report.entries.push(e);
    }
    progress.finish();
    Ok(report)
}

/// A log entry of line `n` for `target`, without hash, message or requests.
fn entry(n: usize, line: &Line, target: &str, outcome: Outcome) -> Entry {
    Entry {
        line: n,
        action: line.action,
        product_key: line.product_key.clone(),
        image_id: line.image_id.clone(),
        target: target.to_owned(),
        outcome,
        sha256: None,
        message: None,
        error_kind: None,
        requests: 0,
    }
}

impl Publisher<'_> {
    /// One write of a line: its entry.
    async fn write(&mut self, w: &Work<'_>) -> Result<Entry, ImagesError> {
        let (n, line, target) = (w.n, w.line, w.target.as_str());
        let file = match self.file(line) {
            Ok(f) => f,
            Err(f) => {
                return Ok(Entry {
                    message: Some(f.message),
                    error_kind: Some(f.kind),
                    ..entry(n, line, target, Outcome::Failed)
                })
            }
        };
        let item = match line.action {
            Action::Overwrite => format!("overwrite|{}|{}", line.image_id, file.sha256),
            _ => format!("add|{target}|{}", file.sha256),
        };
        let mut e = Entry {
            sha256: Some(file.sha256.clone()),
            ..entry(n, line, target, Outcome::Failed)
        };
        let mut requests = 0;
        match self.item(line, target, &item, &file, &mut requests).await? {
            Ok((outcome, message)) => {
                e.outcome = outcome;
                e.message = message;
            }
            Err(f) => {
                warn!(line = n, product = %target, error = %f.message, "image not published");
                e.message = Some(f.message);
                e.error_kind = Some(f.kind);
            }
        }
        e.requests = requests;
        if e.outcome.wrote() {
            info!(line = n, product = %target, action = line.action.as_str(), "image published");
        }
        Ok(e)
    }

    /// The file a line publishes: `edited_file`, else (for a copy) `file`.
    fn file(&self, line: &Line) -> Result<ImageFile, ItemFailure> {
        let rel = match (&line.edited_file, line.action) {
            (Some(f), _) => f,
            (None, Action::Copy) => line.file.as_ref().ok_or_else(|| {
                ItemFailure::new(ErrorKind::Refused, "no `edited_file` and no pulled `file`")
            })?,
            (None, _) => {
                return Err(ItemFailure::new(
                    ErrorKind::Refused,
                    format!("`{}` needs an `edited_file`", line.action.as_str()),
                ))
            }
        };
        let path = self.base.join(rel);
        let bytes = std::fs::read(&path)
            .map_err(|e| ItemFailure::new(ErrorKind::Refused, format!("cannot read {rel}: {e}")))?;
        let format = ImageFormat::sniff(&bytes).ok_or_else(|| {
            ItemFailure::new(
                ErrorKind::Refused,
                format!("{rel} is not a PNG, JPEG, GIF or WEBP image"),
            )
        })?;
        Ok(ImageFile {
            sha256: sha256_hex(&bytes),
            bytes,
            format,
        })
    }

    /// One item: a line's overwrite, or its add to one product. The outer
    /// error stops the publish (the state store failed); the inner one
    /// fails the item.
    async fn item(
        &mut self,
        line: &Line,
        target: &str,
        item: &str,
        file: &ImageFile,
        requests: &mut u32,
    ) -> Result<Result<(Outcome, Option<String>), ItemFailure>, ImagesError> {
        if line.action == Action::Overwrite && line.sha256.as_deref() == Some(file.sha256.as_str())
        {
            return Ok(Ok((
                Outcome::Unchanged,
                Some("the edited file is the pulled one".into()),
            )));
        }
        if line.action == Action::Append && line.sha256.as_deref() == Some(file.sha256.as_str()) {
            return Ok(Ok((
                Outcome::Unchanged,
                Some("the file is the product's image already".into()),
            )));
        }
        if let Some(state) = self.state {
            if let Some(done) = state.image_published(&self.options.channel, item).await? {
                return Ok(Ok((
                    Outcome::Done,
                    Some(format!("{done} by an earlier publish")),
                )));
            }
        }
        let product = match self.product(target, requests).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Ok(Err(ItemFailure::new(
                    ErrorKind::Gone,
                    format!("no product `{target}` in the store"),
                )))
            }
            Err(f) => return Ok(Err(f)),
        };
        let result = match line.action {
            Action::Overwrite => self.overwrite(line, &product, file, requests).await,
            _ => self.add(line, &product, file, requests).await,
        };
        let (outcome, message) = match result {
            Ok(r) => r,
            Err(f) => return Ok(Err(f)),
        };
        let finished = matches!(
            outcome,
            Outcome::Overwritten | Outcome::Appended | Outcome::Unchanged
        );
        if finished && !self.options.dry_run {
            if let Some(state) = self.state {
                let word = match outcome {
                    Outcome::Overwritten => "overwritten",
                    Outcome::Appended => "appended",
                    _ => "found in the store",
                };
                state
                    .record_image_published(
                        &self.options.channel,
                        item,
                        word,
                        time::OffsetDateTime::now_utc(),
                    )
                    .await?;
            }
        }
        Ok(Ok((outcome, message)))
    }

    async fn overwrite(
        &mut self,
        line: &Line,
        product: &ProductImages,
        file: &ImageFile,
        requests: &mut u32,
    ) -> Result<(Outcome, Option<String>), ItemFailure> {
        let Some(image) = product.images.iter().find(|i| i.id == line.image_id) else {
            // A store that overwrites by adding the new file and deleting
            // the old one gives the image a new id: the line is done when
            // the product shows this file at the line's position.
            if product.images.iter().any(|i| {
                i.position == line.position && i.published_hash() == Some(file.sha256.as_str())
            }) {
                return Ok((
                    Outcome::Unchanged,
                    Some("the store shows this file at this position already".into()),
                ));
            }
            return Err(ItemFailure::new(
                ErrorKind::Gone,
                format!(
                    "image {} is no longer an image of product `{}`",
                    line.image_id, line.product_key
                ),
            ));
        };
        if image.published_hash() == Some(file.sha256.as_str()) {
            return Ok((
                Outcome::Unchanged,
                Some("the store shows this file already".into()),
            ));
        }
        if self.options.dry_run {
            return Ok((Outcome::WouldOverwrite, None));
        }
        let image = image.clone();
        let written = self
            .store
            .overwrite(&product.product_id, &image, file, &self.uploads)
            .await
            .inspect_err(|_| {
                // What the store holds now is unknown: read it again next time.
                self.products.remove(&line.product_key);
            });
        // The port counted its requests (uploads included).
        let written = written?;
        *requests += written.requests;
        self.remember(&line.product_key, |p| {
            if let Some(i) = p.images.iter_mut().find(|i| i.id == image.id) {
                i.download_url = Some(file.name());
                i.source_url = Some(file.name());
            }
        });
        Ok((Outcome::Overwritten, None))
    }

    async fn add(
        &mut self,
        line: &Line,
        product: &ProductImages,
        file: &ImageFile,
        requests: &mut u32,
    ) -> Result<(Outcome, Option<String>), ItemFailure> {
        if product
            .images
            .iter()
            .any(|i| i.published_hash() == Some(file.sha256.as_str()))
        {
            return Ok((
                Outcome::Unchanged,
                Some("the product shows this file already".into()),
            ));
        }
        if self
            .pulled
            .get(&product.key)
            .is_some_and(|h| h.contains(&file.sha256))
        {
            return Ok((
                Outcome::Unchanged,
                Some("the product had this file when pulled".into()),
            ));
        }
        if self.options.dry_run {
            return Ok((Outcome::WouldAppend, None));
        }
        let alt = match line.action {
            Action::Copy => line.alt.clone(),
            _ => None,
        };
        let key = product.key.clone();
        let written = self
            .store
            .append(product, file, alt.as_deref(), &self.uploads)
            .await;
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                self.products.remove(&key);
                return Err(e.into());
            }
        };
        *requests += written.requests;
        let name = file.name();
        self.remember(&key, |p| {
            let position = p.images.iter().map(|i| i.position).max().unwrap_or(0) + 1;
            p.images.push(StoreImage {
                id: written.image_id.clone().unwrap_or_default(),
                position,
                alt: alt.clone(),
                variants: Vec::new(),
                source_url: Some(name.clone()),
                download_url: Some(name.clone()),
                content_type: Some(file.format.mime().to_owned()),
                width: None,
                height: None,
            });
        });
        Ok((Outcome::Appended, None))
    }

    /// Product `key` as this publish knows it (read once).
    async fn product(
        &mut self,
        key: &str,
        requests: &mut u32,
    ) -> Result<Option<ProductImages>, ItemFailure> {
        if let Some(p) = self.products.get(key) {
            return Ok(p.clone());
        }
        *requests += 1;
        let p = self.store.product(key).await?;
        self.products.insert(key.to_owned(), p.clone());
        Ok(p)
    }

    fn remember(&mut self, key: &str, f: impl FnOnce(&mut ProductImages)) {
        if let Some(Some(p)) = self.products.get_mut(key) {
            f(p);
        }
    }
}
