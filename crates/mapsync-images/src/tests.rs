//! Pull and publish against a store in memory (the port's contract, no
//! platform): each distinct URL downloaded once, duplicates marked, a
//! second pull downloads nothing; a publish writes each action once, and a
//! second one — with or without its state store — writes nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use mapsync_core::images::{
    ImageFile, ImageFilter, ImagePage, ImageStore, ImageWritten, ProductImages, StoreImage,
};
use mapsync_core::target::{ErrorKind, TargetError, Uploads};

use crate::manifest::{self, Action};
use crate::publish::{publish, Outcome, PublishOptions};
use crate::pull::{pull, PullOptions};
use crate::NoProgress;

fn png(tag: &str) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(tag.as_bytes());
    b
}

#[derive(Default)]
struct Memory {
    products: Mutex<Vec<ProductImages>>,
    files: Mutex<HashMap<String, Vec<u8>>>,
    downloads: Mutex<Vec<String>>,
    writes: Mutex<u32>,
}

impl Memory {
    fn new() -> Memory {
        let m = Memory::default();
        let mut products = Vec::new();
        for p in 0..3 {
            let mut images = Vec::new();
            for (n, name) in [format!("p{p}.png"), "shared.png".to_string()]
                .into_iter()
                .enumerate()
            {
                let url = format!("https://cdn/{name}");
                m.files.lock().unwrap().insert(url.clone(), png(&name));
                images.push(StoreImage {
                    id: format!("m{p}-{n}"),
                    position: n as u32 + 1,
                    alt: None,
                    variants: vec![format!("K{p}-S")],
                    source_url: Some(url.clone()),
                    download_url: Some(url),
                    content_type: None,
                    width: None,
                    height: None,
                });
            }
            products.push(ProductImages {
                product_id: format!("p{p}"),
                key: format!("K{p}"),
                sku: Some(format!("K{p}-S")),
                images,
            });
        }
        *m.products.lock().unwrap() = products;
        m
    }

    fn writes(&self) -> u32 {
        *self.writes.lock().unwrap()
    }

    fn put(&self, file: &ImageFile) -> String {
        let url = format!("https://cdn/{}", file.name());
        self.files
            .lock()
            .unwrap()
            .insert(url.clone(), file.bytes.clone());
        *self.writes.lock().unwrap() += 1;
        url
    }
}

#[async_trait]
impl ImageStore for Memory {
    async fn list(&self, _: &ImageFilter, cursor: Option<&str>) -> Result<ImagePage, TargetError> {
        let products = self.products.lock().unwrap().clone();
        // Two pages.
        let (products, next) = match cursor {
            None => (products[..2].to_vec(), Some("2".to_string())),
            Some(_) => (products[2..].to_vec(), None),
        };
        Ok(ImagePage {
            products,
            next,
            requests: 1,
        })
    }

    async fn product(&self, key: &str) -> Result<Option<ProductImages>, TargetError> {
        Ok(self
            .products
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.key == key)
            .cloned())
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, TargetError> {
        self.downloads.lock().unwrap().push(url.to_owned());
        self.files
            .lock()
            .unwrap()
            .get(url)
            .cloned()
            .ok_or_else(|| TargetError::new(ErrorKind::Gone, "404"))
    }

    async fn overwrite(
        &self,
        product_id: &str,
        image: &StoreImage,
        file: &ImageFile,
        _: &Uploads,
    ) -> Result<ImageWritten, TargetError> {
        let url = self.put(file);
        let mut products = self.products.lock().unwrap();
        let p = products
            .iter_mut()
            .find(|p| p.product_id == product_id)
            .unwrap();
        let i = p.images.iter_mut().find(|i| i.id == image.id).unwrap();
        i.download_url = Some(url.clone());
        i.source_url = Some(url);
        Ok(ImageWritten {
            image_id: Some(image.id.clone()),
            requests: 1,
        })
    }

    async fn append(
        &self,
        product: &ProductImages,
        file: &ImageFile,
        alt: Option<&str>,
        _: &Uploads,
    ) -> Result<ImageWritten, TargetError> {
        let url = self.put(file);
        let mut products = self.products.lock().unwrap();
        let p = products
            .iter_mut()
            .find(|p| p.product_id == product.product_id)
            .unwrap();
        let position = p.images.len() as u32 + 1;
        p.images.push(StoreImage {
            id: format!("new-{position}"),
            position,
            alt: alt.map(str::to_owned),
            variants: Vec::new(),
            source_url: Some(url.clone()),
            download_url: Some(url),
            content_type: None,
            width: None,
            height: None,
        });
        Ok(ImageWritten {
            image_id: None,
            requests: 1,
        })
    }

    async fn delete(&self, _: &str, _: &str) -> Result<ImageWritten, TargetError> {
        unimplemented!("not used by publish")
    }
}

#[tokio::test]
async fn pull_then_publish_twice() {
    let store = Memory::new();
    let dir = tempfile::tempdir().unwrap();
    let options = PullOptions {
        out: dir.path().to_owned(),
        ..PullOptions::default()
    };
    let summary = pull(&store, &options, &NoProgress).await.unwrap();
    assert_eq!((summary.products, summary.images), (3, 6));
    assert_eq!((summary.distinct, summary.duplicates), (4, 2));
    assert_eq!(store.downloads.lock().unwrap().len(), 4, "each URL once");
    let again = pull(&store, &options, &NoProgress).await.unwrap();
    assert_eq!((again.downloaded, again.reused), (0, 4));
    assert_eq!(store.downloads.lock().unwrap().len(), 4);

    let path = dir.path().join(manifest::FILE);
    let mut lines = manifest::read(&path).unwrap();
    assert_eq!(lines[3].duplicate_of.as_deref(), Some("m0-1"));
    std::fs::write(dir.path().join("edit.png"), png("edited")).unwrap();
    lines[0].action = Action::Overwrite;
    lines[0].edited_file = Some("edit.png".into());
    lines[2].action = Action::Append;
    lines[2].edited_file = Some("edit.png".into());
    lines[1].action = Action::Copy;
    lines[1].copy_to = vec!["K1".into(), "K2".into()];
    manifest::write(&path, &lines).unwrap();

    let state = {
        let s = mapsync_state::Store::open(&dir.path().join("state.db")).unwrap();
        mapsync_statedb::StateDb::sqlite(s)
    };
    let mut options = PublishOptions {
        manifest: path.clone(),
        dry_run: true,
        channel: "c".into(),
    };
    let plan = publish(&store, Some(&state), &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(store.writes(), 0);
    let outcomes: Vec<_> = plan.entries.iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::WouldOverwrite,
            // The shared image is on K1 and K2 already: unchanged.
            Outcome::Unchanged,
            Outcome::Unchanged,
            Outcome::WouldAppend,
            Outcome::Skipped,
            Outcome::Skipped,
            Outcome::Skipped,
        ]
    );
    options.dry_run = false;
    let log = publish(&store, Some(&state), &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!((log.written, log.failed), (2, 0), "{log:?}");
    assert_eq!(store.writes(), 2);
    let log = publish(&store, Some(&state), &options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(log.written, 0);
    assert!(log.entries.iter().all(|e| matches!(
        e.outcome,
        Outcome::Done | Outcome::Unchanged | Outcome::Skipped
    )));
    // Without the state store: the store shows the files.
    let log = publish(&store, None, &options, &NoProgress).await.unwrap();
    assert_eq!(log.written, 0);
    assert_eq!(store.writes(), 2);
}
