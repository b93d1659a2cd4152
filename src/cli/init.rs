//! `mapsync init [DIR] [--target shopify|bigcommerce] [--from-csv FILE]`:
//! a starter project that validates without a warning and syncs into the
//! embedded store as it is (docs/cli.md, "init").
//!
//! The files are planned first, as values ([`plan`]); nothing is written
//! when one of them exists ([`codes::INIT_EXISTS`]), and each is created
//! with `create_new`, so a file made meanwhile is not overwritten either
//! (what was written before is removed again).
//!
//! With `--from-csv`, the mapping set is inferred from the CSV's header
//! ([`infer`]): Shopify's product CSV (`Handle`, `Variant SKU`,
//! `Option1 Name`...) and common PIM exports (a key column, title, body,
//! vendor, SKU, price, options, images, quantities), every inferred line
//! commented with the column it came from.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::diag::{codes, Diagnostic};

/// Options of `mapsync init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The project directory, created when missing (default: `--project`,
    /// else the current directory).
    pub dir: Option<PathBuf>,
    /// The kind of store the mapping set is written for; the `sandbox`
    /// profile syncs into the matching embedded store.
    #[arg(long, value_enum, default_value_t)]
    pub target: TargetKind,
    /// Infer the mapping set from this CSV's header (Shopify's product CSV
    /// or a PIM export) and sync that file instead of the sample data.
    #[arg(long, value_name = "FILE")]
    pub from_csv: Option<PathBuf>,
}

/// The store a starter project is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum TargetKind {
    /// Shopify (embedded store: `type: sandbox`).
    #[default]
    Shopify,
    /// BigCommerce (embedded store: `type: bigcommerce-sandbox`).
    Bigcommerce,
}

/// One file of the starter project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Path relative to the project directory.
    pub path: String,
    /// Its content.
    pub content: Vec<u8>,
}

/// Why `init` wrote nothing.
#[derive(Debug)]
pub enum InitError {
    /// Files of the starter project exist already.
    Exists(Vec<PathBuf>),
    /// The CSV cannot be read or has no usable header.
    Csv(String),
    /// A directory or file could not be created.
    Write(String),
}

impl InitError {
    /// The error as a diagnostic with its stable code.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            InitError::Exists(paths) => {
                let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                Diagnostic::error(
                    codes::INIT_EXISTS,
                    format!(
                        "{} already exist{}; nothing was written",
                        list.join(", "),
                        if list.len() == 1 { "s" } else { "" }
                    ),
                )
                .help("run `mapsync init` in an empty directory, or name a new one: `mapsync init my-shop`")
            }
            InitError::Csv(m) => Diagnostic::error(codes::INIT_CSV, m.clone()).help(
                "give a CSV whose first line names its columns, one of them the product key (`Handle`, `SKU`, `ItemNo`, `id`...)",
            ),
            InitError::Write(m) => Diagnostic::error(codes::INIT_WRITE, m.clone())
                .help("check that the directory is writable; files written before the failure were removed"),
        }
    }
}

/// `mapsync init`: 0 when written, 1 (with a diagnostic) when refused.
pub fn init(project: Option<&Path>, args: InitArgs) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .clone()
        .or_else(|| project.map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let result = plan(&dir, &args).and_then(|(files, notes)| {
        write(&dir, &files)?;
        Ok((files, notes))
    });
    let (files, notes) = match result {
        Ok(v) => v,
        Err(e) => {
            eprint!(
                "{}",
                super::render::diagnostic_hinted(
                    &e.diagnostic(),
                    super::render::color_stderr(),
                    100
                )
            );
            return Ok(ExitCode::from(1));
        }
    };
    outln!("Wrote a starter project in {}:", dir.display());
    for f in &files {
        outln!("  {}", f.path);
    }
    for n in &notes {
        outln!("{n}");
    }
    outln!("\nNext:");
    if dir != Path::new(".") {
        outln!("  cd {}", shell_word(&dir.display().to_string()));
    }
    outln!("  mapsync validate                  # checks the project offline");
    outln!("  mapsync test                      # runs the mapping set's tests");
    outln!("  mapsync plan --profile sandbox    # shows what a sync would do");
    outln!("  mapsync sync --profile sandbox    # syncs into the embedded store (.mapsync/)");
    Ok(ExitCode::SUCCESS)
}

fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The files of the starter project for `args` in `dir`, and notes for the
/// user; [`InitError::Exists`] when one of them is there already.
pub fn plan(dir: &Path, args: &InitArgs) -> Result<(Vec<PlannedFile>, Vec<String>), InitError> {
    let mut notes = Vec::new();
    let mut files = Vec::new();
    let (mapping, source, data) = match &args.from_csv {
        None => {
            let (mapping, data) = sample(args.target);
            (
                mapping,
                "{ type: file, path: data/catalog.json }".to_string(),
                Some(("data/catalog.json".to_string(), data.as_bytes().to_vec())),
            )
        }
        Some(csv_path) => {
            let bytes = std::fs::read(csv_path)
                .map_err(|e| InitError::Csv(format!("cannot read {}: {e}", csv_path.display())))?;
            let inferred = infer(&bytes, csv_path, args.target)?;
            notes.extend(inferred.notes.iter().cloned());
            // A CSV inside the project is read where it is; another is
            // copied into data/.
            let inside = relative_inside(dir, csv_path);
            let (path, data) = match inside {
                Some(rel) => (rel, None),
                None => {
                    let name = csv_path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "products.csv".into());
                    let rel = format!("data/{name}");
                    (rel.clone(), Some((rel, bytes)))
                }
            };
            let mut source = format!(
                "{{ type: file, path: {}, entity: product, group_by: {}",
                yaml_str(&path),
                yaml_str(&inferred.key)
            );
            if let Some(d) = inferred.delimiter {
                source.push_str(&format!(", delimiter: {}", yaml_str(&d)));
            }
            if !path.to_ascii_lowercase().ends_with(".csv")
                && !path.to_ascii_lowercase().ends_with(".tsv")
            {
                source.push_str(", format: csv");
            }
            source.push_str(" }");
            (inferred.mapping, source, data)
        }
    };
    files.push(PlannedFile {
        path: "mapsync.yaml".into(),
        content: project_file(args.target, &source).into_bytes(),
    });
    files.push(PlannedFile {
        path: "mappings/catalog/mapping.yaml".into(),
        content: mapping.into_bytes(),
    });
    if let Some((path, content)) = data {
        files.push(PlannedFile { path, content });
    }
    files.push(PlannedFile {
        path: "schemas/project.schema.json".into(),
        content: crate::schema::text(crate::schema::Which::Project)
            .as_bytes()
            .to_vec(),
    });
    files.push(PlannedFile {
        path: "schemas/mapping.schema.json".into(),
        content: crate::schema::text(crate::schema::Which::Mapping)
            .as_bytes()
            .to_vec(),
    });
    files.push(PlannedFile {
        path: ".gitignore".into(),
        content: GITIGNORE.as_bytes().to_vec(),
    });
    files.push(PlannedFile {
        path: ".github/workflows/mapsync.yml".into(),
        content: CI_WORKFLOW.as_bytes().to_vec(),
    });
    let existing: Vec<PathBuf> = files
        .iter()
        .filter(|f| dir.join(&f.path).symlink_metadata().is_ok())
        .map(|f| shown(dir, &f.path))
        .collect();
    if !existing.is_empty() {
        return Err(InitError::Exists(existing));
    }
    Ok((files, notes))
}

/// `dir/path` as shown to the user (`path` alone in the current directory).
fn shown(dir: &Path, path: &str) -> PathBuf {
    if dir == Path::new(".") {
        PathBuf::from(path)
    } else {
        dir.join(path)
    }
}

/// Write every planned file with `create_new`; on a failure, remove the
/// files (not the directories) written so far.
fn write(dir: &Path, files: &[PlannedFile]) -> Result<(), InitError> {
    use std::io::Write;
    let mut written: Vec<PathBuf> = Vec::new();
    let mut result = Ok(());
    for f in files {
        let path = dir.join(&f.path);
        let attempt = (|| -> Result<(), InitError> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    InitError::Write(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        InitError::Exists(vec![path.clone()])
                    } else {
                        InitError::Write(format!("cannot create {}: {e}", path.display()))
                    }
                })?;
            written.push(path.clone());
            file.write_all(&f.content)
                .map_err(|e| InitError::Write(format!("cannot write {}: {e}", path.display())))
        })();
        if let Err(e) = attempt {
            result = Err(e);
            break;
        }
    }
    if result.is_err() {
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
    }
    result
}

/// `file` relative to `dir` when it lies inside it (both resolved).
fn relative_inside(dir: &Path, file: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let file = file.canonicalize().ok()?;
    let rel = file.strip_prefix(&dir).ok()?;
    Some(rel.to_string_lossy().replace('\\', "/"))
}

/// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

const GITIGNORE: &str = "# mapsync's state ledger, the embedded stores and the logs\n.mapsync/\n";

/// The CI recipe of a starter project (docs/ci.md has it with GitLab's).
const CI_WORKFLOW: &str = r#"# Checks the mapping sets on every push and pull request: diagnostics show
# on the changed lines (SARIF), and the mapping tests run. See mapsync's
# docs/ci.md. Set the repository variable MAPSYNC_GIT to the git URL
# mapsync is installed from (or replace the install step).
name: mapsync
on: [push, pull_request]
permissions:
  contents: read
  security-events: write
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/cache@v4
        with:
          path: ~/.cargo
          key: mapsync-${{ runner.os }}-${{ vars.MAPSYNC_GIT }}
      - name: Install mapsync
        run: command -v mapsync || cargo install --locked --git "${{ vars.MAPSYNC_GIT }}" mapsync
      - name: Validate (annotations on the changed lines)
        run: mapsync validate --format github --deny-warnings
      - name: Validate (JSON report)
        if: always()
        run: mapsync validate --format json --deny-warnings > mapsync-validate.json
      - name: Mapping tests
        run: mapsync test
      - name: Validate (SARIF, for code scanning)
        if: always()
        run: mapsync validate --format sarif > mapsync.sarif || true
      - uses: github/codeql-action/upload-sarif@v3
        if: always()
        with:
          sarif_file: mapsync.sarif
          category: mapsync
"#;

fn project_file(target: TargetKind, source: &str) -> String {
    let (sandbox, real) = match target {
        TargetKind::Shopify => (
            "{ type: sandbox }                    # the embedded Shopify store, in .mapsync/sandbox.json",
            "  # A real shop: SHOPIFY_TOKEN=... mapsync sync --profile shop\n  # shop:\n  #   mapping: mappings/catalog\n  #   source: SOURCE\n  #   target: { type: shopify, shop: YOUR-SHOP.myshopify.com, token: \"${SHOPIFY_TOKEN}\" }\n  #   state: sqlite:.mapsync/shop.db\n  #   channel: shop\n",
        ),
        TargetKind::Bigcommerce => (
            "{ type: bigcommerce-sandbox }        # the embedded BigCommerce store, in .mapsync/bigcommerce-sandbox.json",
            "  # A real store: BC_TOKEN=... mapsync sync --profile store\n  # store:\n  #   mapping: mappings/catalog\n  #   source: SOURCE\n  #   target: { type: bigcommerce, store_hash: YOUR_STORE_HASH, token: \"${BC_TOKEN}\" }\n  #   state: sqlite:.mapsync/store.db\n  #   channel: store\n",
        ),
    };
    format!(
        "# yaml-language-server: $schema=schemas/project.schema.json\n\
         # A mapsync project (written by `mapsync init`). Try it:\n\
         #   mapsync validate && mapsync test && mapsync sync --profile sandbox\n\
         mapsync: 1\n\
         profiles:\n  \
           # The mapping set into the embedded store: no account, no network.\n  \
           sandbox:\n    \
             mapping: mappings/catalog\n    \
             source: {source}\n    \
             target: {sandbox}\n    \
             state: sqlite:.mapsync/state.db\n\
         {}",
        real.replace("SOURCE", source)
    )
}

/// The sample mapping set and catalog of a project without `--from-csv`.
fn sample(target: TargetKind) -> (String, &'static str) {
    let mapping = match target {
        TargetKind::Shopify => SAMPLE_SHOPIFY,
        TargetKind::Bigcommerce => SAMPLE_BIGCOMMERCE,
    };
    (mapping.to_string(), SAMPLE_DATA)
}

const SAMPLE_DATA: &str = r#"{
  "categories": [
    { "CategoryId": "C-TEES", "Name": "T-shirts", "Description": "<p>Soft cotton tees</p>", "Active": true },
    { "CategoryId": "C-MUGS", "Name": "Mugs", "Description": "<p>Stoneware mugs</p>", "Active": true }
  ],
  "products": [
    {
      "ItemNo": "TEE-1", "Name": "Classic Tee", "Description": "Organic cotton, regular fit.",
      "Vendor": "Starter Co", "Type": "T-shirts", "Tags": "cotton,basics", "Published": true,
      "Categories": ["C-TEES"],
      "Images": ["https://cdn.example.com/starter/tee-front.jpg", "https://cdn.example.com/starter/tee-back.jpg"],
      "Variants": [
        { "Sku": "TEE-1-WHT-S", "Color": "White", "Size": "S", "Price": "19.00", "Stock": 12 },
        { "Sku": "TEE-1-WHT-M", "Color": "White", "Size": "M", "Price": "19.00", "Stock": 8 },
        { "Sku": "TEE-1-BLK-M", "Color": "Black", "Size": "M", "Price": "21.00", "Stock": 5 }
      ]
    },
    {
      "ItemNo": "MUG-1", "Name": "Stoneware Mug", "Description": "Holds 350 ml. Dishwasher safe.",
      "Vendor": "Starter Co", "Type": "Mugs", "Tags": "kitchen", "Published": true,
      "Categories": ["C-MUGS"],
      "Images": ["https://cdn.example.com/starter/mug.jpg"],
      "Variants": [
        { "Sku": "MUG-1-SND", "Color": "Sand", "Size": "350 ml", "Price": "14.50", "Stock": 30 }
      ]
    },
    {
      "ItemNo": "TEE-2", "Name": "Pocket Tee", "Description": "Heavy cotton with a chest pocket.",
      "Vendor": "Starter Co", "Type": "T-shirts", "Tags": "cotton", "Published": false,
      "Categories": ["C-TEES"],
      "Images": [],
      "Variants": [
        { "Sku": "TEE-2-GRY-L", "Color": "Grey", "Size": "L", "Price": "24.00", "Stock": 0 }
      ]
    }
  ]
}
"#;

const SAMPLE_SHOPIFY: &str = r#"# yaml-language-server: $schema=../../schemas/mapping.schema.json
# How the records of data/catalog.json become Shopify collections and
# products. Keys of `map:` are target fields, values are source fields
# ('quoted' = a literal, {{ }} = a template). The format: mapsync's
# docs/mapping-format.md; every diagnostic: `mapsync explain CODE`.
mapsync: 1
name: catalog
settings:
  sync: [add, update, deactivate]   # what a sync may do
  max_deletes: 50%                  # refuse runs that would delete more
locations:
  MAIN: { name: "Shop location" }
entities:
  category:
    key: CategoryId
    published: Active
    map:
      title: Name
      body_html: Description
  product:
    key: ItemNo
    published: Published
    categories: Categories
    map:
      title: Name
      body_html: "<p>{{ Description }}</p>"
      vendor: Vendor
      product_type: Type
      tags: Tags
    images:
      - { from: Images, kind: url }
    variants:
      from: Variants
      key: Sku
      map:
        sku: Sku
        price: Price
        "Option|Color": Color
        "Option|Size": Size
        Quantity_MAIN: Stock
        inventory_item.tracked: "'true'"
tests:
  - name: a tee becomes a product with its variants
    entity: product
    input: { ItemNo: T1, Name: Tee, Description: Soft, Vendor: Acme, Variants: [ { Sku: T1-S, Color: Red, Size: S, Price: "19.90", Stock: 3 } ] }
    expect:
      title: Tee
      body_html: "<p>Soft</p>"
      variants: [ { sku: T1-S, price: "19.90", options: { Color: Red, Size: S } } ]
"#;

const SAMPLE_BIGCOMMERCE: &str = r#"# yaml-language-server: $schema=../../schemas/mapping.schema.json
# How the records of data/catalog.json become BigCommerce categories and
# products. Keys of `map:` are target fields, values are source fields
# ('quoted' = a literal, {{ }} = a template). The format: mapsync's
# docs/mapping-format.md and docs/bigcommerce.md; every diagnostic:
# `mapsync explain CODE`.
mapsync: 1
name: catalog
target: bigcommerce
settings:
  sync: [add, update, deactivate]   # what a sync may do
  max_deletes: 50%                  # refuse runs that would delete more
locations:
  MAIN: { name: "Default location" }
entities:
  category:
    key: CategoryId
    published: Active
    map:
      name: Name
      description: Description
  product:
    key: ItemNo
    published: Published
    categories: Categories
    map:
      name: Name
      type: "'physical'"
      description: "<p>{{ Description }}</p>"
      brand: Vendor
      weight: "'1'"
      price: Variants[0].Price
      search_keywords: Tags
      inventory_tracking: "'variant'"
      custom_fields.Type: Type
    images:
      - { from: Images, kind: url }
    variants:
      from: Variants
      key: Sku
      map:
        sku: Sku
        price: Price
        "Option|Color": Color
        "Option|Size": Size
        Quantity_MAIN: Stock
tests:
  - name: a tee becomes a product with its variants
    entity: product
    input: { ItemNo: T1, Name: Tee, Description: Soft, Vendor: Acme, Variants: [ { Sku: T1-S, Color: Red, Size: S, Price: "19.90", Stock: 3 } ] }
    expect:
      name: Tee
      variants: [ { sku: T1-S, price: "19.90", options: { Color: Red, Size: S } } ]
"#;

/// A mapping set inferred from a CSV header.
#[derive(Debug, Clone)]
pub struct Inferred {
    /// The mapping file's text.
    pub mapping: String,
    /// The column each product is keyed (and its rows grouped) by.
    pub key: String,
    /// The delimiter when it is not `,` (`;`, `tab`).
    pub delimiter: Option<String>,
    /// What the user should know (columns left out...).
    pub notes: Vec<String>,
}

/// A column role and the header names (normalized: lower case, letters
/// and digits only) that suggest it, best first.
const KEY: &[&str] = &[
    "handle",
    "productkey",
    "key",
    "productid",
    "itemno",
    "itemnumber",
    "parentsku",
    "stylenumber",
    "style",
    "model",
    "productcode",
    "productnumber",
    "articlenumber",
    "id",
];
const TITLE: &[&str] = &["title", "name", "productname", "producttitle"];
const BODY: &[&str] = &[
    "bodyhtml",
    "body",
    "descriptionhtml",
    "description",
    "longdescription",
    "productdescription",
];
const VENDOR: &[&str] = &["vendor", "brand", "manufacturer", "brandname"];
const TYPE: &[&str] = &["type", "producttype"];
const TAGS: &[&str] = &["tags", "keywords"];
const PUBLISHED: &[&str] = &["published", "active", "enabled", "visible"];
const SEO_TITLE: &[&str] = &["seotitle", "metatitle", "pagetitle"];
const SEO_DESCRIPTION: &[&str] = &["seodescription", "metadescription"];
const SKU: &[&str] = &["variantsku", "sku", "articlesku", "itemsku", "variantcode"];
const PRICE: &[&str] = &[
    "variantprice",
    "price",
    "unitprice",
    "retailprice",
    "saleprice",
];
const COMPARE_AT: &[&str] = &[
    "variantcompareatprice",
    "compareatprice",
    "oldprice",
    "msrp",
    "listprice",
    "rrp",
];
const BARCODE: &[&str] = &["variantbarcode", "barcode", "ean", "gtin", "upc", "ean13"];
const QUANTITY: &[&str] = &[
    "variantinventoryqty",
    "inventoryqty",
    "quantity",
    "qty",
    "stock",
    "inventory",
    "onhand",
    "stocklevel",
];
const GRAMS: &[&str] = &["variantgrams", "grams", "weightgrams", "weightg"];
const COST: &[&str] = &["costperitem", "cost", "costprice", "purchaseprice"];
const IMAGE: &[&str] = &[
    "imagesrc",
    "image",
    "imageurl",
    "images",
    "picture",
    "pictureurl",
    "photo",
    "mainimage",
];
/// Option columns of a PIM export: named by the option.
const OPTION_WORDS: &[&str] = &[
    "color", "colour", "size", "material", "style", "flavor", "flavour",
];

fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a column name can be written as a source path (letters, digits,
/// spaces, `_`, `-`, `(`, `)`, not starting with a quote or a digit-less
/// symbol); others are left out, with a note.
fn usable(name: &str) -> bool {
    !name.is_empty()
        && name.trim() == name
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || " _-()".contains(c))
}

struct Header {
    /// Column names as written.
    names: Vec<String>,
    /// Columns taken by a role.
    used: Vec<bool>,
}

impl Header {
    /// The first unused, usable column whose normalized name is one of
    /// `words` (in the order of `words`).
    fn take(&mut self, words: &[&str]) -> Option<String> {
        for w in words {
            if let Some(i) = self
                .names
                .iter()
                .enumerate()
                .position(|(i, n)| !self.used[i] && usable(n) && normalize(n) == *w)
            {
                self.used[i] = true;
                return Some(self.names[i].clone());
            }
        }
        None
    }

    fn has(&self, word: &str) -> bool {
        self.names.iter().any(|n| normalize(n) == word)
    }
}

/// Sniff the delimiter from the header line: the most frequent of `,`,
/// `;` and tab outside quotes (`.tsv` files: tab).
fn delimiter(bytes: &[u8], path: &Path) -> u8 {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
    {
        return b'\t';
    }
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in line {
        if *b == b'"' {
            quoted = !quoted;
        }
        if !quoted {
            for c in counts.iter_mut() {
                if c.0 == *b {
                    c.1 += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|c| c.1)
        .filter(|c| c.1 > 0)
        .map(|c| c.0)
        .unwrap_or(b',')
}

/// Infer a mapping set from a CSV: its header names the roles, its first
/// product's rows become the mapping set's test.
pub fn infer(bytes: &[u8], path: &Path, target: TargetKind) -> Result<Inferred, InitError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let delim = delimiter(bytes, path);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .from_reader(bytes);
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| InitError::Csv(format!("{}: cannot read the header: {e}", path.display())))?
        .iter()
        .map(str::to_string)
        .collect();
    if names.iter().all(|n| n.trim().is_empty()) {
        return Err(InitError::Csv(format!(
            "{}: the header is empty",
            path.display()
        )));
    }
    let rows: Vec<Vec<String>> = reader
        .records()
        .take(2000)
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_string).collect())
        .collect();
    let mut h = Header {
        used: vec![false; names.len()],
        names,
    };
    let shopify =
        h.has("handle") && (h.has("variantsku") || h.has("option1name") || h.has("variantprice"));
    let key = h.take(KEY).or_else(|| {
        // No key column: the SKU, one product per SKU.
        h.names
            .iter()
            .find(|n| usable(n) && SKU.contains(&normalize(n).as_str()))
            .cloned()
    });
    let Some(key) = key else {
        return Err(InitError::Csv(format!(
            "{}: no column of the header looks like a product key ({})",
            path.display(),
            h.names.join(", ")
        )));
    };
    let key_index = h.names.iter().position(|n| *n == key).unwrap_or(0);
    let all_names = h.names.clone();
    let cell = |row: &[String], col: &str| -> String {
        all_names
            .iter()
            .position(|n| n == col)
            .and_then(|i| row.get(i))
            .cloned()
            .unwrap_or_default()
    };
    let mut notes = Vec::new();
    let bc = target == TargetKind::Bigcommerce;
    let mut m = Mapping::default();
    let p = |c: &str| format!("_rows[0].{c}");
    let from = |c: &str| format!("column {c:?}");

    // Product fields.
    let title = h.take(TITLE);
    match &title {
        Some(c) => m.map(if bc { "name" } else { "title" }, &p(c), &from(c)),
        None => {
            m.map(
                if bc { "name" } else { "title" },
                &key.clone(),
                &format!("no title column: the key {key:?} stands in"),
            );
        }
    }
    if !bc && shopify {
        m.map("handle", &key, &format!("column {key:?}: Shopify's handle"));
    }
    if let Some(c) = h.take(BODY) {
        m.map(
            if bc { "description" } else { "body_html" },
            &p(&c),
            &from(&c),
        );
    }
    if let Some(c) = h.take(VENDOR) {
        m.map(if bc { "brand" } else { "vendor" }, &p(&c), &from(&c));
    }
    if bc {
        m.map(
            "type",
            "'physical'",
            "every product physical (BigCommerce needs a type)",
        );
        m.map(
            "inventory_tracking",
            "'variant'",
            "stock is counted per variant",
        );
    }
    if let Some(c) = h.take(TYPE) {
        if bc {
            m.map("custom_fields.Type", &p(&c), &from(&c));
        } else {
            m.map("product_type", &p(&c), &from(&c));
        }
    }
    if let Some(c) = h.take(TAGS) {
        m.map(
            if bc { "search_keywords" } else { "tags" },
            &p(&c),
            &from(&c),
        );
    }
    if let Some(c) = h.take(SEO_TITLE) {
        m.map(
            if bc { "page_title" } else { "seo.title" },
            &p(&c),
            &from(&c),
        );
    }
    if let Some(c) = h.take(SEO_DESCRIPTION) {
        m.map(
            if bc {
                "meta_description"
            } else {
                "seo.description"
            },
            &p(&c),
            &from(&c),
        );
    }
    let published = h.take(PUBLISHED);

    // Variant fields.
    let sku = h.take(SKU);
    let price = h.take(PRICE);
    if bc {
        match &price {
            Some(c) => m.map(
                "price",
                &p(c),
                &format!("column {c:?} of the first row: BigCommerce needs a product price"),
            ),
            None => m.map(
                "price",
                "'0'",
                "no price column: BigCommerce needs a product price",
            ),
        }
        match h
            .names
            .iter()
            .find(|n| GRAMS.contains(&normalize(n).as_str()))
        {
            Some(c) if usable(c) => m.map(
                "weight",
                &p(c),
                &format!("column {c:?} of the first row (the store's weight unit must be grams)"),
            ),
            _ => m.map(
                "weight",
                "'0'",
                "no weight column: BigCommerce needs a product weight",
            ),
        }
    }
    if let Some(c) = &sku {
        m.var("sku", c, &from(c));
    }
    if let Some(c) = &price {
        m.var("price", c, &from(c));
    }
    if let Some(c) = h.take(COMPARE_AT) {
        if !bc {
            m.var("compare_at_price", &c, &from(&c));
        } else {
            m.map(
                "retail_price",
                &p(&c),
                &format!("column {c:?} of the first row"),
            );
        }
    }
    if let Some(c) = h.take(BARCODE) {
        m.var(if bc { "upc" } else { "barcode" }, &c, &from(&c));
    }
    if let Some(c) = h.take(COST) {
        m.var(
            if bc {
                "cost_price"
            } else {
                "inventory_item.cost"
            },
            &c,
            &from(&c),
        );
    }
    if let Some(c) = h.take(GRAMS) {
        if bc {
            m.var("weight", &c, &from(&c));
        } else {
            m.var("inventory_item.weight", &c, &from(&c));
            m.var(
                "inventory_item.weight_unit",
                "'GRAMS'",
                &format!("{c:?} holds grams"),
            );
        }
    }
    // Options: Shopify's OptionN Name / OptionN Value pairs, else columns
    // named after an option (Color, Size...).
    let mut option_names = Vec::new();
    for n in 1..=3 {
        let name_col = h.take(&[format!("option{n}name").as_str()]);
        let value_col = h.take(&[format!("option{n}value").as_str()]);
        if let (Some(nc), Some(vc)) = (name_col, value_col) {
            option_names.push(p(&nc));
            m.var(
                &format!("Option|{n}"),
                &vc,
                &format!("column {vc:?}, named by {nc:?}"),
            );
        }
    }
    if option_names.is_empty() {
        for (i, name) in h.names.clone().iter().enumerate() {
            if m.options >= 3 {
                break;
            }
            if !h.used[i] && usable(name) && OPTION_WORDS.contains(&normalize(name).as_str()) {
                h.used[i] = true;
                m.options += 1;
                let option: String = name
                    .chars()
                    .filter(|c| c.is_alphanumeric() || *c == ' ')
                    .collect();
                m.var(
                    &format!("Option|{option}"),
                    name,
                    &format!("column {name:?} as the option {option:?}"),
                );
            }
        }
    }
    if let Some(c) = h.take(QUANTITY) {
        m.var(
            "Quantity_MAIN",
            &c,
            &format!("{} (at the location MAIN)", from(&c)),
        );
        if !bc {
            m.var(
                "inventory_item.tracked",
                "'true'",
                "stock is tracked when there is a quantity column",
            );
        }
    }
    let image = h.take(IMAGE);
    let variant_key = sku.clone().unwrap_or_else(|| key.clone());
    // Without option columns, the target could not tell several variants
    // of a product apart: one row per product takes that row as its one
    // variant; several rows get the SKU as an option.
    let no_options = option_names.is_empty() && m.options == 0;
    let sku_index = sku
        .as_ref()
        .and_then(|c| h.names.iter().position(|n| n == c));
    let mut per_key: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for r in &rows {
        let k = r.get(key_index).map(String::as_str).unwrap_or_default();
        let is_variant = sku_index.is_none_or(|i| r.get(i).is_some_and(|v| !v.is_empty()));
        if !k.is_empty() && is_variant {
            *per_key.entry(k).or_insert(0) += 1;
        }
    }
    let one_row_each = no_options && per_key.values().all(|n| *n <= 1);
    if no_options && !one_row_each {
        m.var(
            "Option|Variant",
            &variant_key,
            &format!(
                "no option columns, several rows per product: {variant_key:?} tells the variants apart (map the real option columns instead)"
            ),
        );
    }

    // Decimal commas (`9,50`, `1.234,50`: a European spreadsheet's
    // export) become points through a template.
    let comma_columns: Vec<String> = h
        .names
        .iter()
        .enumerate()
        .filter(|(i, _)| decimal_commas(rows.iter().filter_map(|r| r.get(*i))))
        .map(|(_, n)| n.clone())
        .collect();
    m.decimal_commas(&comma_columns);

    // The mapping file.
    let mut y = String::new();
    y.push_str("# yaml-language-server: $schema=../../schemas/mapping.schema.json\n");
    y.push_str(&format!(
        "# Inferred by `mapsync init --from-csv` from the header of {}{}.\n",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        if shopify {
            " (Shopify's product CSV format)"
        } else {
            ""
        }
    ));
    y.push_str(&format!(
        "# The rows of one {key:?} are one product (`group_by` in mapsync.yaml): its fields\n\
         # come from the first row (`_rows[0]`), its variants from every row with a\n\
         # SKU. Each line says which column it guessed from: check them, then\n\
         # `mapsync validate` and `mapsync plan --profile sandbox`.\n"
    ));
    y.push_str("mapsync: 1\nname: catalog\n");
    if bc {
        y.push_str("target: bigcommerce\n");
    }
    y.push_str("settings:\n  sync: [add, update, deactivate]\n  max_deletes: 50%\n");
    if m.has_quantity() {
        y.push_str(&format!(
            "locations:\n  MAIN: {{ name: {} }}   # guessed: the store's location that gets the quantities\n",
            yaml_str(if bc { "Default location" } else { "Shop location" })
        ));
    }
    y.push_str("entities:\n  product:\n");
    y.push_str(&format!(
        "    key: {}   # guessed: column {key:?}\n",
        yaml_str(&key)
    ));
    if let Some(c) = &published {
        y.push_str(&format!(
            "    published: {}   # guessed: {}\n",
            yaml_str(&p(c)),
            from(c)
        ));
    }
    y.push_str("    map:\n");
    for (t, s, why) in &m.product {
        y.push_str(&format!(
            "      {}: {}   # guessed: {why}\n",
            yaml_key(t),
            yaml_str(s)
        ));
    }
    if let Some(c) = &image {
        y.push_str("    images:\n");
        y.push_str(&format!(
            "      - {{ from: {}, kind: url }}   # guessed: {} of every row\n",
            yaml_str(&format!("_rows[*].{c}")),
            from(c)
        ));
    }
    if !option_names.is_empty() {
        let list: Vec<String> = option_names.iter().map(|s| yaml_str(s)).collect();
        y.push_str(&format!(
            "    option_names: [{}]   # guessed: the option names of the first row\n",
            list.join(", ")
        ));
    }
    if one_row_each {
        y.push_str("    variants:\n      from: \"_rows[0]\"   # guessed: one row per product and no option columns, one variant each\n");
    } else {
        y.push_str("    variants:\n      from: _rows\n");
    }
    if let (Some(c), false) = (&sku, one_row_each) {
        y.push_str(&format!(
            "      where: {}   # guessed: rows without a SKU (extra images) are no variant\n",
            yaml_str(c)
        ));
    }
    y.push_str(&format!(
        "      key: {}   # guessed: {}\n",
        yaml_str(&variant_key),
        if sku.is_some() {
            from(&variant_key)
        } else {
            format!("no SKU column: the product key {key:?}, one variant per product")
        }
    ));
    y.push_str("      map:\n");
    if sku.is_none() {
        y.push_str(&format!(
            "        sku: {}   # guessed: no SKU column, the product key\n",
            yaml_str(&key)
        ));
    }
    for (t, s, why) in &m.variant {
        y.push_str(&format!(
            "        {}: {}   # guessed: {why}\n",
            yaml_key(t),
            yaml_str(s)
        ));
    }

    // The test: the first product's rows, as the CSV has them.
    if let Some(first) = rows.first() {
        let first_key = first.get(key_index).cloned().unwrap_or_default();
        if !first_key.is_empty() {
            let group: Vec<&Vec<String>> = rows
                .iter()
                .filter(|r| r.get(key_index) == Some(&first_key))
                .collect();
            let mut columns: Vec<String> = vec![key.clone()];
            for c in m
                .source_columns()
                .into_iter()
                .chain(image.clone())
                .chain(published.clone())
            {
                if !columns.contains(&c) {
                    columns.push(c);
                }
            }
            for nc in &option_names {
                let c = nc.trim_start_matches("_rows[0].").to_string();
                if !columns.contains(&c) {
                    columns.push(c);
                }
            }
            let input_rows: Vec<serde_json::Value> = group
                .iter()
                .map(|r| {
                    let mut o = serde_json::Map::new();
                    for c in &columns {
                        let v = cell(r, c);
                        if !v.is_empty() {
                            o.insert(c.clone(), v.into());
                        }
                    }
                    serde_json::Value::Object(o)
                })
                .collect();
            let mut input = serde_json::Map::new();
            input.insert(key.clone(), first_key.clone().into());
            input.insert("_rows".into(), input_rows.into());
            let title_value = match &title {
                Some(c) => cell(first, c),
                None => first_key.clone(),
            };
            let skus: Vec<String> = match &sku {
                Some(c) => group
                    .iter()
                    .map(|r| cell(r, c))
                    .filter(|s| !s.is_empty())
                    .collect(),
                None => vec![first_key.clone()],
            };
            y.push_str("tests:\n");
            y.push_str(&format!(
                "  - name: {}   # written from the CSV's first product\n",
                yaml_str(&format!("the rows of {first_key} become one product"))
            ));
            y.push_str("    entity: product\n");
            y.push_str(&format!(
                "    input: {}\n",
                serde_json::to_string(&serde_json::Value::Object(input)).unwrap_or_default()
            ));
            y.push_str("    expect:\n");
            if !title_value.is_empty() {
                y.push_str(&format!(
                    "      {}: {}\n",
                    if bc { "name" } else { "title" },
                    yaml_str(&title_value)
                ));
            }
            let variants: Vec<String> = skus
                .iter()
                .map(|s| format!("{{ sku: {} }}", yaml_str(s)))
                .collect();
            y.push_str(&format!("      variants: [{}]\n", variants.join(", ")));
        }
    }

    let left: Vec<String> = h
        .names
        .iter()
        .enumerate()
        .filter(|(i, n)| !h.used[*i] && *n != &key && !n.is_empty())
        .map(|(_, n)| n.clone())
        .collect();
    if !left.is_empty() {
        notes.push(format!(
            "Columns not mapped (add them to mappings/catalog/mapping.yaml if you need them): {}",
            left.join(", ")
        ));
    }
    if rows.is_empty() {
        notes.push("The CSV has a header but no rows: the sync will find nothing to do.".into());
    }
    let delimiter = match delim {
        b';' => Some(";".to_string()),
        b'\t'
            if !path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("tsv")) =>
        {
            Some("tab".to_string())
        }
        _ => None,
    };
    Ok(Inferred {
        mapping: y,
        key,
        delimiter,
        notes,
    })
}

/// Whether a column's non-empty cells are decimals written with a comma
/// (`9,50`, `1.234,50`), none with a decimal point.
fn decimal_commas<'a>(cells: impl Iterator<Item = &'a String>) -> bool {
    let mut comma = false;
    for c in cells {
        let c = c.trim();
        if c.is_empty() {
            continue;
        }
        let digits = c.strip_prefix('-').unwrap_or(c);
        let Some((int, frac)) = digits.rsplit_once(',') else {
            // Plain whole numbers say nothing; `9.50` is a point decimal.
            if digits.chars().all(|ch| ch.is_ascii_digit()) {
                continue;
            }
            return false;
        };
        let int_ok = !int.is_empty() && int.chars().all(|ch| ch.is_ascii_digit() || ch == '.');
        if !int_ok || frac.is_empty() || !frac.chars().all(|ch| ch.is_ascii_digit()) {
            return false;
        }
        comma = true;
    }
    comma
}

/// The decimal targets of both kinds of store.
const DECIMAL_TARGETS: &[&str] = &[
    "price",
    "compare_at_price",
    "inventory_item.cost",
    "inventory_item.weight",
    "retail_price",
    "cost_price",
    "weight",
];

/// Whether a column name can be a template variable.
fn identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A YAML key: plain when it is a simple name, else double-quoted.
fn yaml_key(k: &str) -> String {
    if k.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.".contains(c))
    {
        k.to_string()
    } else {
        yaml_str(k)
    }
}

/// The inferred lines of a mapping: (target, source, why).
#[derive(Default)]
struct Mapping {
    product: Vec<(String, String, String)>,
    variant: Vec<(String, String, String)>,
    options: usize,
    /// Columns read by templates.
    columns: Vec<String>,
}

impl Mapping {
    fn map(&mut self, target: &str, source: &str, why: &str) {
        self.product
            .push((target.into(), source.into(), why.into()));
    }
    fn var(&mut self, target: &str, source: &str, why: &str) {
        self.variant
            .push((target.into(), source.into(), why.into()));
    }
    /// Decimal lines reading a column of `columns` go through a template
    /// that turns `1.234,50` into `1234.50`.
    fn decimal_commas(&mut self, columns: &[String]) {
        const FIX: &str = "replace('.', '') | replace(',', '.')";
        for (target, source, why) in &mut self.product {
            let Some(col) = source.strip_prefix("_rows[0].") else {
                continue;
            };
            if DECIMAL_TARGETS.contains(&target.as_str()) && columns.iter().any(|c| c == col) {
                self.columns.push(col.to_string());
                *source = format!("{{{{ _rows[0]['{col}'] | {FIX} }}}}");
                why.push_str(", decimal commas made points");
            }
        }
        for (target, source, why) in &mut self.variant {
            if DECIMAL_TARGETS.contains(&target.as_str()) && columns.iter().any(|c| c == source) {
                if identifier(source) {
                    self.columns.push(source.clone());
                    *source = format!("{{{{ {source} | {FIX} }}}}");
                    why.push_str(", decimal commas made points");
                } else {
                    why.push_str(" (it has decimal commas: export points, or rename the column and use a template)");
                }
            }
        }
    }

    fn has_quantity(&self) -> bool {
        self.variant
            .iter()
            .any(|(t, _, _)| t.starts_with("Quantity_"))
    }
    /// The CSV columns the lines read (literals left out).
    fn source_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = self.columns.clone();
        for (_, s, _) in self.product.iter().chain(&self.variant) {
            if s.starts_with('\'') || s.contains("{{") {
                continue;
            }
            let c = s.trim_start_matches("_rows[0].").to_string();
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }
}
