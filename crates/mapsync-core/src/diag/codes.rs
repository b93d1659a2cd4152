//! The registry of diagnostic codes: every code mapsync can report, with a
//! one-line summary. `docs/diagnostics.md` lists the same codes (a test
//! keeps them in agreement). Codes are stable: never rename one.

/// A stable diagnostic code such as `metafield::namespace-length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code {
    /// The code as printed.
    pub name: &'static str,
    /// What it means, in one line.
    pub summary: &'static str,
}

macro_rules! codes {
    ($($ident:ident = $name:literal, $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $ident: Code = Code { name: $name, summary: $summary };
        )*
        /// Every code, in documentation order.
        pub const ALL: &[Code] = &[$($ident),*];
    };
}

codes! {
    YAML_SYNTAX = "yaml::syntax", "the file is not valid YAML";
    INTERNAL = "internal::bug", "mapsync itself failed; please report it";
    SCHEMA_UNKNOWN_KEY = "schema::unknown-key", "a key the format does not know (with a suggestion when one is close)";
    SCHEMA_REQUIRED = "schema::required", "a required key is missing";
    SCHEMA_TYPE = "schema::type", "a value has the wrong type (e.g. a list where a mapping is needed)";
    SCHEMA_ENUM = "schema::enum", "a value is not one of the allowed words";
    SCHEMA_VERSION = "schema::version", "`mapsync:` is not a format version this binary reads";
    SCHEMA_FORMAT = "schema::format", "a value does not have the required format (durations, percentages, ids, names)";
    SCHEMA_RANGE = "schema::range", "a number or a length is out of range";
    SCHEMA_ONE_OF = "schema::one-of", "exactly one of several alternatives is needed (e.g. a location's `name` or `id`)";
    SCHEMA_OTHER = "schema::other", "any other JSON Schema violation";
    MAPPING_DUPLICATE_KEY = "mapping::duplicate-key", "a key appears twice in one YAML mapping (or in two files of a mapping set)";
    MAPPING_CONFLICT = "mapping::conflict", "files of one mapping set disagree on `mapsync`, `name` or `target`";
    MAPPING_NO_ENTITIES = "mapping::no-entities", "the mapping set maps no entity (warning)";
    MAPPING_TARGET_KIND = "mapping::target-kind", "the mapping set's `target:` names a kind no registered target connector accepts";
    SETTINGS_VALUE = "settings::value", "a setting's value cannot work (e.g. max_deletes above 100%, zero timeout)";
    SETTINGS_SYNC_EMPTY = "settings::sync-empty", "`sync: []` allows nothing (warning)";
    SETTINGS_DELETE_AND_DEACTIVATE = "settings::delete-and-deactivate", "`sync` has both delete and deactivate; deactivate wins (warning)";
    ENTITY_KEY_MISSING = "entity::key-missing", "an entity has no `key` (the seed's KeyField)";
    ENTITY_TITLE_MISSING = "entity::title-missing", "an entity maps no `title`, which Shopify requires";
    ENTITY_CATEGORIES_WITHOUT_CATEGORY = "entity::categories-without-category", "products name categories but no category entity is mapped (warning)";
    ENTITY_REQUIRED_UNMAPPED = "entity::required-unmapped", "the target requires a field that the entity never maps: every create would be refused (warning)";
    ENTITY_FAMILY_LIMIT = "entity::family-limit", "an entity maps more fields of a family (e.g. custom fields) than the target takes, or one with too long a name (warning)";
    MATCH_LONG_FORM = "match::long-form", "`match: PATH` whose path the entity maps to no target field: the long form `{ source, target }` must say which field it equals";
    MATCH_UNKNOWN_FIELD = "match::unknown-field", "`match:` names a target field the target cannot find items by (with suggestions)";
    MATCH_UNSUPPORTED = "match::unsupported", "`match:` on an entity of a target that cannot find items by a field";
    TWO_WAY_SOURCE_NOT_WRITABLE = "two-way::source-not-writable", "a field flows `to_source` or `both`, but the profile's source cannot be written (the `file` source)";
    TWO_WAY_FIELD_UNSUPPORTED = "two-way::field-unsupported", "`direction:` other than `to_target` on a field the target cannot read back as written (quantities, metafield descriptions, options) or on a variant field (not supported yet)";
    TWO_WAY_READ_ONLY = "two-way::read-only", "a field the target makes itself (a product's online store URL) is mapped without `direction: to_source`: the target never takes it";
    TWO_WAY_NEEDS_PATH = "two-way::needs-path", "a field flowing to the source is mapped from a template, a literal or a transformed path: no source field to write the target's value to";
    TWO_WAY_CONFLICT_WITHOUT_BOTH = "two-way::conflict-without-both", "`conflict:` on a field whose direction is not `both`: it is never used (warning)";
    TWO_WAY_NEWEST_NEEDS_UPDATED_AT = "two-way::newest-needs-updated-at", "`conflict: newest` on an entity without `updated_at: { source, target }`";
    TWO_WAY_CONFLICT = "two-way::conflict", "an item held: a field mapped `direction: both` with `conflict: manual` (or `newest` without both dates) changed on both sides; nothing is written on either side until `mapsync resolve` picks one";
    RESOLVE_NOT_MANUAL = "resolve::not-manual", "`mapsync resolve` names a field that is not mapped `direction: both` with `conflict: manual`: no conflict of it waits for a person";
    RESOLVE_UNKNOWN_FIELD = "resolve::unknown-field", "`mapsync resolve` names a field the entity does not map, or an entity the mapping set does not map (with a suggestion)";
    VARIANTS_FROM_MISSING = "variants::from-missing", "`variants` has no `from` list field";
    VARIANTS_OPTIONS_MISSING = "variants::options-missing", "`variants` may give a product several variants but maps no `Option|...`: the target could not tell them apart (warning)";
    TARGET_SYNTAX = "target::syntax", "a `map:` key is not a valid target expression";
    TARGET_UNKNOWN_FIELD = "target::unknown-field", "a plain target field that the entity does not have";
    TARGET_VARIANT_ONLY = "target::variant-only", "a variant-only target (Quantity_, Option|, sku, price, ...) outside `variants.map`";
    MAP_DUPLICATE_TARGET = "map::duplicate-target", "the same target is mapped twice in one entity";
    SOURCE_SYNTAX = "source::syntax", "a source path (value, `from`, `key`, ...) is not valid";
    VALUE_MISSING = "value::missing", "a mapping has a null or empty value";
    VALUE_LONG_FORM = "value::long-form", "the long form has none, or more than one, of `from`, `template`, `value`";
    VALUE_INVALID_LITERAL = "value::invalid-literal", "a literal value is invalid for its target's type";
    TEMPLATE_SYNTAX = "template::syntax", "a minijinja template does not parse";
    METAFIELD_NAMESPACE_LENGTH = "metafield::namespace-length", "a metafield namespace is too short or too long for the rule set";
    METAFIELD_NAMESPACE_CHARS = "metafield::namespace-chars", "a metafield namespace has a character the rule set does not allow";
    METAFIELD_NAMESPACE_RESERVED = "metafield::namespace-reserved", "a metafield namespace contains `--`, reserved by Shopify";
    METAFIELD_MAPSYNC_NAMESPACE = "metafield::mapsync-namespace", "the `mapsync` namespace is reserved for mapsync's ownership marker";
    METAFIELD_KEY_LENGTH = "metafield::key-length", "a metafield key is too short or too long for the rule set";
    METAFIELD_KEY_CHARS = "metafield::key-chars", "a metafield key has a character the rule set does not allow";
    METAFIELD_UNKNOWN_TYPE = "metafield::unknown-type", "a metafield type name is neither Shopify's nor one of the seed's aliases";
    METAFIELD_DEPRECATED_TYPE = "metafield::deprecated-type", "the seed's `string` type, deprecated since API 2021-07 (warning)";
    METAFIELD_DESCRIPTION_WITHOUT_VALUE = "metafield::description-without-value", "an `@description` mapping whose metafield has no value mapping in the same entity";
    METAFIELD_CONFLICTING_TYPES = "metafield::conflicting-types", "one metafield mapped twice with different types";
    METAFIELD_CASE_COLLISION = "metafield::case-collision", "two metafields differ only in letter case (warning; the seed's trap)";
    QUANTITY_UNKNOWN_LOCATION = "quantity::unknown-location", "`Quantity_X` without `locations.X`";
    OPTION_TOO_MANY = "option::too-many", "more than 3 options for a product";
    OPTION_INDEX = "option::index", "`Option|N` outside 1..3 or without a name in `option_names`";
    IMAGE_CATEGORY_MULTIPLE = "image::category-multiple", "a category has more than one image entry; only the first is used (warning)";
    TEST_ENTITY_UNDEFINED = "test::entity-undefined", "a mapping test names an entity the set does not map";
    PROJECT_NO_PROFILES = "project::no-profiles", "the project file defines no profile";
    PROJECT_MAPPING_MISSING = "project::mapping-missing", "a profile's mapping set does not exist or cannot be loaded";
    PROJECT_SOURCE_PATH = "project::source-path", "a `file` source without `path`";
    PROJECT_SOURCE_FORMAT = "project::source-format", "a `file` source whose format cannot be told from its extension";
    PROJECT_SOURCE_MISSING = "project::source-missing", "a `file` source's file does not exist (warning)";
    PROJECT_SOURCE_ENTITY = "project::source-entity", "a CSV or NDJSON source without `entity`";
    PROJECT_CSV_OPTION = "project::csv-option", "`delimiter` or `group_by` on a source that is not CSV";
    PROJECT_TARGET_ADDRESS = "project::target-address", "a `shopify` target without `shop`/`url`, or with both; a `bigcommerce` block without `store_hash`, or with one that is no store hash";
    PROJECT_SHOP = "project::shop", "`shop` is not NAME.myshopify.com";
    PROJECT_TARGET_URL = "project::target-url", "`url` is not an http(s) base URL";
    PROJECT_TOKEN_MISSING = "project::token-missing", "a `shopify` target or a `bigcommerce` block without a token (warning)";
    PROJECT_SECRET_IN_FILE = "project::secret-in-file", "a token written in clear instead of `${ENV}` (warning)";
    PROJECT_ENV_SYNTAX = "project::env-syntax", "a malformed `${...}` reference";
    PROJECT_STATE_URL = "project::state-url", "`state` is not `sqlite:PATH` or `postgres://...`";
    PROJECT_UNSUPPORTED = "project::unsupported", "a state store this version cannot run yet (warning)";
    PROJECT_UNKNOWN_TYPE = "project::unknown-type", "a source or target `type:` that names no connector of this mapsync (the help lists the types)";
    PROJECT_API_VERSION = "project::api-version", "an `api_version` the store no longer serves, or that this mapsync does not speak (the help lists the supported ones)";
    PROJECT_TARGET_MISMATCH = "project::target-mismatch", "a profile pairs a mapping set written for one target kind with a target of another";
    PROJECT_WRITEBACK_IGNORED = "project::writeback-ignored", "write-back fields declared for a `file` source, which cannot be written (warning)";
    PROJECT_RUN_OPTION = "project::run-option", "a `run:` option that cannot work (`listen` not IP:PORT, `config_check` or `keep_days` zero)";
    SCHEDULE_KIND = "schedule::kind", "a profile's `schedule` has none, or more than one, of `every`, `cron`, `manual: true`";
    SCHEDULE_EVERY = "schedule::every", "`every:` is not a duration above zero";
    SCHEDULE_CRON = "schedule::cron", "`cron:` is not a cron pattern";
    SCHEDULE_TIMEZONE = "schedule::timezone", "`timezone:` is not an IANA time zone name (or is given without `cron`: warning)";
    RECORD_VALUE = "record::value", "a record's value is invalid for its target field (decimal, boolean, handle, enum, country, HS code, key, select)";
    RECORD_TEMPLATE = "record::template", "a template failed for a record (undefined variable, fuel exhausted, runtime error)";
    RECORD_METAFIELD_VALUE = "record::metafield-value", "a record's metafield value is invalid for the metafield's type";
    RECORD_VARIANTS = "record::variants", "a product's variants field is not a list of objects";
    RECORD_VARIANT_KEY = "record::variant-key", "a variant key is empty or shared by two variants of one product";
    RECORD_OPTIONS = "record::options", "a product has more options than the target allows (Shopify: 3), two options with one name, or a variant missing an option value";
    RECORD_QUANTITY = "record::quantity", "a `Quantity_X` value is not a whole number";
    RECORD_IMAGE = "record::image", "an image value is neither text nor an object with a `url`/`src` (warning; the image is dropped)";
    RECORD_IMAGE_DATA = "record::image-data", "an embedded image is not base64, or its bytes are not a PNG, JPEG, GIF or WEBP image";
    RECORD_IMAGE_LEFT_OUT = "record::image-left-out", "an image's usage rights expired, or do not name the profile's channel: it is not sent, and a target that has it loses it (warning)";
    RECORD_IMAGE_RIGHTS = "record::image-rights", "an image's expiry is not a date: with its rights unknown it is not sent (warning)";
    RECORD_IMAGES_TOO_MANY = "record::images-too-many", "a product has more images than the target keeps (Shopify: 250); the extra ones are dropped (warning)";
    RECORD_CATEGORY_IMAGES = "record::category-images", "a category record has more than one image; only the first is used (warning)";
    RECORD_MALFORMED = "record::malformed", "a source record could not be read (bad NDJSON line, CSV row with the wrong field count, not an object)";
    PREFLIGHT_VARIANTS_BY_OPTIONS = "preflight::variants-by-options", "a product has several variants but no option, or two variants with the same option values: the target could not tell them apart";
    PREFLIGHT_VARIANT_COUNT = "preflight::variant-count", "a product has more variants than the target allows";
    PREFLIGHT_OPTION_VALUES = "preflight::option-values", "an option has more values than the target allows";
    PREFLIGHT_REQUIRED = "preflight::required", "a product, category or variant lacks a field the target requires";
    PREFLIGHT_DECIMAL = "preflight::decimal", "a price, weight or other decimal is out of the target's range or has too many decimals";
    PREFLIGHT_FORMAT = "preflight::format", "a handle or URL path does not have the format the target takes";
    PREFLIGHT_MAX_LENGTH = "preflight::max-length", "a text is longer than the target takes";
    PREFLIGHT_UNIQUE_IN_PRODUCT = "preflight::unique-in-product", "two variants of one product share a value the target keeps unique (e.g. a SKU)";
    PREFLIGHT_UNIQUE_IN_RUN = "preflight::unique-in-run", "two records of the run share a value the target keeps unique in the store (e.g. a SKU, a name, a URL)";
    PREFLIGHT_FAMILY = "preflight::family", "a product has more fields of a family (e.g. custom fields) than the target takes, or a member's name is too long";
    PREFLIGHT_QUANTITY = "preflight::quantity", "a stock quantity is out of the range the target takes";
    PREFLIGHT_IMAGE_SOURCES = "preflight::image-sources", "an image is neither an absolute http(s) URL nor embedded data";
    PREFLIGHT_IMAGE_SIZE = "preflight::image-size", "an embedded image's file is larger than the target takes";
    PREFLIGHT_METAFIELD_LENGTH = "preflight::metafield-length", "a metafield value is longer than the target takes";
    RECONCILE_MATCH_CONFLICT = "reconcile::match-conflict", "an item's `match:` identifier finds two target items, or one linked to another key: it is not synced (never a guess)";
    RECONCILE_DRIFT = "reconcile::drift", "a field was edited in the store since mapsync wrote it and `settings.on_drift` is `fail`: the item fails and nothing is written";
    RUN_TARGET_UNREACHABLE = "run::target-unreachable", "the target could not be reached (or answered with temporary failures) after the retries; nothing is lost";
    RUN_TARGET_DENIED = "run::target-denied", "the store refused the credentials (HTTP 401/403): check the token and its access scopes";
    RUN_TARGET_CONFIG = "run::target-config", "the profile's target options cannot work (address, version, plan)";
    RUN_TARGET = "run::target", "the target failed in another way (see the message and the log)";
    RUN_SOURCE_CONFIG = "run::source-config", "the profile's source options cannot work";
    RUN_SOURCE = "run::source", "the source could not be read; the run stopped before any change";
    RUN_STATE = "run::state", "the state store could not be opened or written (locked, not a state database, no permission)";
    RUN_STATE_UNREACHABLE = "run::state-unreachable", "the PostgreSQL state database cannot be reached or refused the login; nothing was changed, or what was finished is recorded";
    RUN_ENV = "run::env", "an environment variable the profile names is not set or malformed";
    RUN_WORKER_QUEUE = "run::worker-queue", "`mapsync run --worker` cannot use the pool's job queue: a profile's state is in SQLite, profiles name different databases, a MAPSYNC_WORKER_* setting is malformed, or the queue database cannot be used";
    RUN_PROJECT = "run::project", "the project file has errors or cannot be read; `mapsync validate` shows them";
    RUN_PROFILE = "run::profile", "no profile of that name in the project file";
    RUN_PLAN_STALE = "run::plan-stale", "a saved plan was made against a target that has changed since; nothing was changed";
    RUN_INTERRUPTED = "run::interrupted", "the run was interrupted; finished items are recorded and the next run resumes";
    RUN_MASS_DELETE = "run::mass-delete", "the plan deletes more than `max_deletes` allows; nothing was changed";
    RUN_DISK_FULL = "run::disk-full", "the disk holding the project's temporary folder or the state store is full; the run stopped before any change, or with everything done so far recorded";
    RUN_FAILED = "run::failed", "any other fatal error of a command";
    INIT_EXISTS = "init::exists", "`mapsync init` would overwrite a file that exists; nothing was written";
    INIT_CSV = "init::csv", "`mapsync init --from-csv` cannot read the CSV or find a key column in its header";
    INIT_WRITE = "init::write", "`mapsync init` could not create a directory or write a file of the starter project";
    EXPLAIN_UNKNOWN_CODE = "explain::unknown-code", "`mapsync explain` was given a code this mapsync does not have";
}
