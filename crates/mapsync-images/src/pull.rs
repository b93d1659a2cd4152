//! `images pull`: every product image of a target into a folder.
//!
//! 1. List the products (every one, or `only` keys) with their images.
//! 2. Download each distinct download URL once, at most
//!    [`ImageStore::parallelism`] at a time, into `files/xx/<sha256>.<ext>`
//!    (a temporary file renamed into place). Each finished download is
//!    appended to `.downloads.ndjson` (URL, hash, file), so a pull killed
//!    midway — or run again — skips the files already there with the right
//!    hash.
//! 3. Write `manifest.ndjson`: one line per image in listing order; an
//!    image whose bytes an earlier image already has is `duplicate_of` it.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use mapsync_core::image::ImageFormat;
use mapsync_core::images::{ImageFilter, ImageStore, ProductImages};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::manifest::{self, Action, Line};
use crate::{sha256_hex, ImagesError, Progress};

/// The journal of finished downloads in a pulled folder.
pub const DOWNLOADS: &str = ".downloads.ndjson";

/// What to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The folder (created when missing).
    pub out: PathBuf,
    /// Only these product keys (all when empty).
    pub only: Vec<String>,
    /// Only products updated since this date.
    pub since: Option<String>,
}

/// One image that could not be pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullFailure {
    /// Its product.
    pub product_key: String,
    /// The image.
    pub image_id: String,
    /// Why.
    pub message: String,
}

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PullSummary {
    /// Products read.
    pub products: u64,
    /// Images in the manifest.
    pub images: u64,
    /// Distinct files (by content hash).
    pub distinct: u64,
    /// Images whose bytes another image already has.
    pub duplicates: u64,
    /// Files downloaded by this pull.
    pub downloaded: u64,
    /// Files already in the folder with the right hash (not downloaded).
    pub reused: u64,
    /// Bytes downloaded by this pull.
    pub bytes_downloaded: u64,
    /// Bytes of the distinct files.
    pub bytes_distinct: u64,
    /// Store requests of the listing.
    pub list_requests: u64,
    /// Images that could not be pulled.
    pub failed: Vec<PullFailure>,
    /// Images whose `action`, `edited_file` and `copy_to`, set in the
    /// folder's earlier manifest, this pull kept (the store still holds the
    /// same bytes for them).
    pub kept_actions: u64,
    /// Images whose action the earlier manifest set but this pull reset to
    /// `skip`: the store holds other bytes for them now, or no longer has
    /// them (the earlier manifest is kept as `manifest.previous.ndjson`).
    pub reset_actions: u64,
    /// The manifest written.
    pub manifest: PathBuf,
}

/// A finished download, as journaled.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Fetched {
    url: String,
    sha256: String,
    file: String,
    bytes: u64,
    content_type: Option<String>,
}

/// Pulls every image of `store` into `options.out`.
pub async fn pull(
    store: &dyn ImageStore,
    options: &PullOptions,
    progress: &dyn Progress,
) -> Result<PullSummary, ImagesError> {
    let out = &options.out;
    std::fs::create_dir_all(out.join("files")).map_err(|e| ImagesError::io(out, e))?;
    let mut summary = PullSummary {
        manifest: out.join(manifest::FILE),
        ..PullSummary::default()
    };

    // 1. The listing (products whose new images the store still
    // processes are read again a few times).
    let mut products = list(store, options, &mut summary, progress).await?;
    settle(store, &mut products, &mut summary).await?;
    summary.products = products.len() as u64;

    // 2. Each distinct URL once.
    let journal_path = out.join(DOWNLOADS);
    let mut known: HashMap<String, Fetched> = read_journal(&journal_path)
        .into_iter()
        .filter(|f| file_has(out, &f.file, &f.sha256))
        .map(|f| (f.url.clone(), f))
        .collect();
    let mut wanted: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in &products {
        for i in &p.images {
            if let Some(url) = &i.download_url {
                if seen.insert(url.clone()) {
                    wanted.push(url.clone());
                }
            }
        }
    }
    progress.start(wanted.len() as u64);
    let to_fetch: Vec<String> = wanted
        .iter()
        .filter(|u| {
            let have = known.contains_key(*u);
            if have {
                summary.reused += 1;
                progress.step(None);
            }
            !have
        })
        .cloned()
        .collect();
    let mut journal = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal_path)
        .map_err(|e| ImagesError::io(&journal_path, e))?;
    let mut errors: HashMap<String, String> = HashMap::new();
    let parallel = store.parallelism().max(1);
    let mut fetches = futures::stream::iter(to_fetch.into_iter().map(|url| async move {
        let result = fetch(store, out, &url).await;
        (url, result)
    }))
    .buffer_unordered(parallel);
    while let Some((url, result)) = fetches.next().await {
        match result {
            Ok(f) => {
                summary.downloaded += 1;
                summary.bytes_downloaded += f.bytes;
                if let Ok(text) = serde_json::to_string(&f) {
                    let _ = writeln!(journal, "{text}");
                }
                known.insert(url, f);
                progress.step(None);
            }
            Err(message) => {
                warn!(url = %url, error = %message, "image not downloaded");
                progress.step(Some(&url));
                errors.insert(url, message);
            }
        }
    }
    drop(fetches);
    let _ = journal.flush();

    // 3. The manifest.
    let mut first_of: HashMap<String, String> = HashMap::new();
    let mut distinct_bytes: BTreeMap<String, u64> = BTreeMap::new();
    let mut lines = Vec::new();
    for p in &products {
        for i in &p.images {
            let fetched = i.download_url.as_ref().and_then(|u| known.get(u));
            let mut duplicate_of = None;
            if let Some(f) = fetched {
                match first_of.get(&f.sha256) {
                    Some(first) => {
                        duplicate_of = Some(first.clone());
                        summary.duplicates += 1;
                    }
                    None => {
                        first_of.insert(f.sha256.clone(), i.id.clone());
                    }
                }
                distinct_bytes.insert(f.sha256.clone(), f.bytes);
            } else {
                let message = match &i.download_url {
                    Some(u) => errors
                        .get(u)
                        .cloned()
                        .unwrap_or_else(|| "not downloaded".into()),
                    None => "the store has no file for it yet (still processing?)".into(),
                };
                summary.failed.push(PullFailure {
                    product_key: p.key.clone(),
                    image_id: i.id.clone(),
                    message,
                });
            }
            lines.push(Line {
                product_key: p.key.clone(),
                product_id: p.product_id.clone(),
                sku: p.sku.clone(),
                image_id: i.id.clone(),
                position: i.position,
                variants: i.variants.clone(),
                alt: i.alt.clone(),
                source_url: i.source_url.clone().or_else(|| i.download_url.clone()),
                file: fetched.map(|f| f.file.clone()),
                sha256: fetched.map(|f| f.sha256.clone()),
                bytes: fetched.map(|f| f.bytes),
                content_type: fetched
                    .and_then(|f| f.content_type.clone())
                    .or_else(|| i.content_type.clone()),
                width: i.width,
                height: i.height,
                duplicate_of,
                action: Action::Skip,
                edited_file: None,
                copy_to: Vec::new(),
            });
        }
    }
    summary.images = lines.len() as u64;
    summary.distinct = distinct_bytes.len() as u64;
    summary.bytes_distinct = distinct_bytes.values().sum();
    let path = summary.manifest.clone();
    keep_actions(&path, &mut lines, &mut summary)?;
    manifest::write(&summary.manifest, &lines)?;
    progress.finish();
    Ok(summary)
}

/// The earlier manifest's name when this pull resets some of its actions.
pub const PREVIOUS: &str = "manifest.previous.ndjson";

/// Carries the actions the user set in the folder's earlier manifest (if
/// any) over to the images the store still holds with the same bytes, so
/// pulling again never loses planned edits. An action whose image changed
/// or went away is reset to `skip` (the edit may no longer fit), and the
/// earlier manifest is kept as [`PREVIOUS`]; so is a manifest that cannot
/// be read, with a warning.
fn keep_actions(
    path: &Path,
    lines: &mut [Line],
    summary: &mut PullSummary,
) -> Result<(), ImagesError> {
    if !path.exists() {
        return Ok(());
    }
    let keep_previous = |why: &str| -> Result<(), ImagesError> {
        let previous = path.with_file_name(PREVIOUS);
        std::fs::copy(path, &previous).map_err(|e| ImagesError::io(&previous, e))?;
        warn!(manifest = %path.display(), kept_as = %previous.display(), "{why}");
        Ok(())
    };
    let earlier = match manifest::read(path) {
        Ok(earlier) => earlier,
        Err(e) => {
            return keep_previous(&format!(
                "the folder's earlier manifest cannot be read ({e}); it is kept, no action carried over"
            ))
        }
    };
    let planned: HashMap<&str, &Line> = earlier
        .iter()
        .filter(|l| l.action != Action::Skip || l.edited_file.is_some() || !l.copy_to.is_empty())
        .map(|l| (l.image_id.as_str(), l))
        .collect();
    if planned.is_empty() {
        return Ok(());
    }
    let mut used = std::collections::HashSet::new();
    for line in lines.iter_mut() {
        let Some(old) = planned.get(line.image_id.as_str()) else {
            continue;
        };
        used.insert(line.image_id.clone());
        if old.sha256.is_some() && old.sha256 == line.sha256 {
            line.action = old.action;
            line.edited_file.clone_from(&old.edited_file);
            line.copy_to.clone_from(&old.copy_to);
            summary.kept_actions += 1;
        } else {
            summary.reset_actions += 1;
        }
    }
    summary.reset_actions += planned.keys().filter(|id| !used.contains(**id)).count() as u64;
    if summary.reset_actions > 0 {
        keep_previous(&format!(
            "{} image action(s) of the earlier manifest reset to skip: the store holds other bytes for those images now, or no longer has them",
            summary.reset_actions
        ))?;
    }
    Ok(())
}

/// Every product of the pull (or the `only` ones, looked up by key).
async fn list(
    store: &dyn ImageStore,
    options: &PullOptions,
    summary: &mut PullSummary,
    progress: &dyn Progress,
) -> Result<Vec<ProductImages>, ImagesError> {
    let mut products = Vec::new();
    if !options.only.is_empty() {
        for key in &options.only {
            summary.list_requests += 1;
            match store.product(key).await? {
                Some(p) => products.push(p),
                None => warn!(key = %key, "no product with this key in the store"),
            }
        }
        return Ok(products);
    }
    let filter = ImageFilter {
        since: options.since.clone(),
    };
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list(&filter, cursor.as_deref()).await?;
        summary.list_requests += u64::from(page.requests);
        products.extend(page.products);
        progress.listed(products.len() as u64);
        match page.next {
            // A cursor that does not move would loop forever.
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            _ => break,
        }
    }
    Ok(products)
}

/// Reads again, a few times with a growing pause, the products with an
/// image the store has no file for yet (still processing); what is still
/// missing after that fails its image.
async fn settle(
    store: &dyn ImageStore,
    products: &mut [ProductImages],
    summary: &mut PullSummary,
) -> Result<(), ImagesError> {
    let mut pause = std::time::Duration::from_millis(200);
    for _ in 0..SETTLE_ROUNDS {
        let waiting: Vec<usize> = products
            .iter()
            .enumerate()
            .filter(|(_, p)| p.images.iter().any(|i| i.download_url.is_none()))
            .map(|(n, _)| n)
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        debug!(
            products = waiting.len(),
            "images still processing; reading them again"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(3));
        for n in waiting {
            summary.list_requests += 1;
            if let Some(p) = store.product(&products[n].key).await? {
                if p.product_id == products[n].product_id {
                    products[n] = p;
                }
            }
        }
    }
    Ok(())
}

/// How often products with images still processing are read again.
const SETTLE_ROUNDS: usize = 5;

/// Downloads `url` into the folder, named by its hash.
async fn fetch(store: &dyn ImageStore, out: &Path, url: &str) -> Result<Fetched, String> {
    let bytes = store.download(url).await.map_err(|e| e.to_string())?;
    if bytes.is_empty() {
        return Err("the store served an empty file".into());
    }
    let sha256 = sha256_hex(&bytes);
    let format = ImageFormat::sniff(&bytes);
    let ext = format
        .map(ImageFormat::extension)
        .unwrap_or_else(|| extension_of(url));
    let rel = format!("files/{}/{sha256}.{ext}", &sha256[..2]);
    let path = out.join(&rel);
    let len = bytes.len() as u64;
    if !file_has(out, &rel, &sha256) {
        let dir = path.parent().unwrap_or(out).to_owned();
        // Two downloads of the same bytes (under two URLs) may write this
        // file at once: each writes its own temporary file, and the
        // renames replace one complete file by an identical one. The
        // temporary file goes when dropped (an error, a stopped pull).
        let tmp = unique_temp_path(&path);
        let write = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(tmp.path(), &bytes)?;
            tmp.persist(&path)
        })
        .await
        .map_err(|e| e.to_string())?;
        write.map_err(|e| format!("cannot write {rel}: {e}"))?;
    } else {
        debug!(file = %rel, "already in the folder");
    }
    Ok(Fetched {
        url: url.to_owned(),
        sha256,
        file: rel,
        bytes: len,
        content_type: format.map(|f| f.mime().to_owned()),
    })
}

/// A temporary file for `path` that no other download writes: in the
/// project's temporary folder (named after this process, removed by the
/// next run if this one is killed), or beside `path` when no folder is
/// installed (`<file>.<n>.part`). Removed when dropped unless persisted.
fn unique_temp_path(path: &std::path::Path) -> mapsync_state::tmp::TmpFile {
    mapsync_state::tmp::temp_for(path, "image.part")
}

/// A file extension from a URL's path (`bin` when it has none).
fn extension_of(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "jpg",
        "png" => "png",
        "gif" => "gif",
        "webp" => "webp",
        "svg" => "svg",
        "avif" => "avif",
        _ => "bin",
    }
}

/// Whether `rel` in `out` exists with content `sha256`.
fn file_has(out: &Path, rel: &str, sha256: &str) -> bool {
    std::fs::read(out.join(rel)).is_ok_and(|b| sha256_hex(&b) == sha256)
}

fn read_journal(path: &Path) -> Vec<Fetched> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
