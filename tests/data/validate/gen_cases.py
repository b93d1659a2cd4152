# Run from tests/data/validate. Generates invalid/*.yaml from compact specs. « marks
# where the expected diagnostic starts; the header records code line:col.
import os, re
H = "mapsync: 1\n"
P = "mapsync: 1\nentities:\n  product:\n    key: ItemNo\n    map:\n      title: Name\n"
V = P + "    variants:\n      from: Variants\n      map:\n"
# A profile reading a `rest` source: R + options + RE + the product entity's options + RT.
R = "mapsync: 1\nprofiles:\n  pim:\n    mapping: ../support/minimal.yaml\n    source:\n      type: rest\n      base_url: https://pim.example.com/api/v1\n"
RE = "      entities:\n        product:\n"
RT = "    target: { type: sandbox }\n"
# A profile writing to a `rest` target: T + the product entity's options.
T = "mapsync: 1\nprofiles:\n  store:\n    mapping: ../support/rest.yaml\n    source: { type: file, path: ../support/data.json }\n    target:\n      type: rest\n      base_url: https://store.example.com/api\n      entities:\n        product:\n"
TL = "          list: { path: /products, records: data, key: external_id }\n"
TW = "          create: { path: /products, id: data.id }\n          update: { path: \"/products/{{ id }}\" }\n"
cases = {
"yaml-syntax": ("yaml::syntax", H + "entities:\n  product: «[1, 2\n"),
"yaml-tab-indent": ("yaml::syntax", H + "entities:\n\t«product: {}\n"),
"schema-version": ("schema::version", "mapsync: «2\n"),
"schema-missing-version": ("schema::required", "«entities: {}\n"),
"schema-unknown-top-key": ("schema::unknown-key", H + "«entites: {}\n"),
"schema-unknown-setting": ("schema::unknown-key", H + "settings:\n  «chunk_sise: 10\n"),
"schema-unknown-entity": ("schema::unknown-key", H + "entities:\n  «variant: {}\n"),
"schema-settings-type": ("schema::type", H + "settings: «[add]\n"),
"schema-sync-word": ("schema::enum", H + "settings:\n  sync: [add, «updte]\n"),
"schema-change-detection": ("schema::enum", H + "settings:\n  change_detection: «sha\n"),
"schema-duration": ("schema::format", H + "settings:\n  data_max_age: «7 days\n"),
"schema-max-deletes": ("schema::type", H + "settings:\n  max_deletes: «ten\n"),
"schema-chunk-range": ("schema::range", H + "settings:\n  chunk_size: «0\n"),
"schema-on-drift": ("schema::enum", H + "settings:\n  on_drift: «ignore\n"),
"schema-location-both": ("schema::one-of", H + "locations:\n  CPH: «{ name: A, id: \"gid://shopify/Location/1\" }\n"),
"schema-location-id": ("schema::format", H + "locations:\n  CPH: { id: «\"Location/1\" }\n"),
"schema-image-kind": ("schema::enum", P + "    images:\n      - { from: Img, kind: «link }\n"),
"schema-image-from": ("schema::required", P + "    images:\n      - «{ kind: url }\n"),
"schema-map-list": ("schema::type", H + "entities:\n  product:\n    key: K\n    map: «[title]\n"),
"schema-test-entity": ("schema::enum", H + "tests:\n  - { name: t, entity: «variant, input: {}, expect: {} }\n"),
"schema-transform": ("schema::type", P + "      vendor: «{ from: V, transform: [reverse] }\n"),
"mapping-duplicate-key": ("mapping::duplicate-key", H + "settings:\n  retries: 2\n  «retries: 3\n"),
"settings-max-deletes-percent": ("settings::value", H + "settings:\n  max_deletes: «150%\n"),
"entity-key-missing": ("entity::key-missing", H + "entities:\n  «product:\n    map:\n      title: Name\n"),
"entity-title-missing": ("entity::title-missing", H + "entities:\n  product:\n    key: K\n    «map:\n      vendor: V\n"),
"variants-from-missing": ("variants::from-missing", P + "    «variants:\n      map:\n        sku: Sku\n"),
"target-syntax-metafield-short": ("target::syntax", P + "      \"Metafield|ns«\": X\n"),
"target-syntax-metafield-extra": ("target::syntax", P + "      \"Metafield|Global|Size|integer«|x\": X\n"),
"target-syntax-field": ("target::syntax", P + "      seo.«: X\n"),
"mapping-target-kind": ("mapping::target-kind", "mapsync: 1\ntarget: «woocommerce\nentities:\n  product:\n    key: ItemNo\n    map:\n      title: Name\n"),
"value-literal-metafield-bad-name": ("value::invalid-literal", P + "      \"Metafield|custom|b|boolean\": «\"'maybe'\"\n"),
"metafield-description-type": ("metafield::conflicting-types", P + "      \"Metafield|custom|size|integer\": Size\n      «\"Metafield|custom|size|single_line_text_field@description\": \"'Size as printed'\"\n"),
"target-unknown-field": ("target::unknown-field", P + "      «titel: Name2\n"),
"target-unknown-field-category": ("target::unknown-field", H + "entities:\n  category:\n    key: Id\n    map:\n      title: Name\n      «vendor: V\n"),
"target-variant-only-sku": ("target::variant-only", P + "      «sku: Sku\n"),
"target-variant-only-quantity": ("target::variant-only", H + "locations: { CPH: { name: C } }\n" + P[len(H):] + "      «Quantity_CPH: Stock\n"),
"target-variant-only-option": ("target::variant-only", P + "      «\"Option|Color\": Color\n"),
"map-duplicate-target": ("map::duplicate-target", P + "      vendor: V\n      «vendor: W\n"),
"map-duplicate-metafield": ("map::duplicate-target", P + "      \"Metafield|custom|a_b|integer\": A\n      «\"metafield|custom|a_b|Int\": B\n"),
"source-syntax-index": ("source::syntax", P + "      vendor: Variants[«x].Sku\n"),
"source-syntax-key": ("source::syntax", H + "entities:\n  product:\n    key: Item.«\n    map:\n      title: Name\n"),
"source-syntax-unclosed": ("source::syntax", P + "      vendor: \"«'Acme\"\n"),
"value-missing": ("value::missing", P + "      vendor: «~\n"),
"value-empty": ("value::missing", P + "      vendor: «\"\"\n"),
"value-long-form-none": ("value::long-form", P + "      vendor: «{ default: x }\n"),
"value-long-form-two": ("value::long-form", P + "      vendor: «{ from: V, value: x }\n"),
"value-literal-price": ("value::invalid-literal", V + "        price: «\"'ten'\"\n"),
"value-literal-bool": ("value::invalid-literal", V + "        inventory_item.tracked: «\"'maybe'\"\n"),
"value-literal-handle": ("value::invalid-literal", P + "      handle: «\"'Not A Handle'\"\n"),
"value-literal-quantity": ("value::invalid-literal", H + "locations: { CPH: { name: C } }\n" + V[len(H):] + "        Quantity_CPH: «\"'many'\"\n"),
"value-literal-integer-metafield": ("value::invalid-literal", P + "      \"Metafield|custom|count|integer\": «\"'12.5'\"\n"),
"value-literal-color-metafield": ("value::invalid-literal", P + "      \"Metafield|custom|shade|color\": «\"'red'\"\n"),
"value-literal-date-metafield": ("value::invalid-literal", P + "      \"Metafield|custom|launch|Date\": «\"'31/12/2024'\"\n"),
"value-literal-weight-metafield": ("value::invalid-literal", P + "      \"Metafield|custom|mass|weight\": «\"'{\\\"unit\\\": \\\"stone\\\", \\\"value\\\": 1}'\"\n"),
"value-literal-url-metafield": ("value::invalid-literal", P + "      \"Metafield|custom|doc|url\": «\"'ftp://x.example'\"\n"),
"value-literal-rating-metafield": ("value::invalid-literal", P + "      \"Metafield|custom|stars|rating\": «\"'{\\\"value\\\": \\\"7\\\", \\\"scale_min\\\": \\\"1\\\", \\\"scale_max\\\": \\\"5\\\"}'\"\n"),
"template-syntax": ("template::syntax", P + "      body_html: \"{{ Description «}\"\n"),
"template-syntax-block": ("template::syntax", P + "      body_html: \"{% if X %}«yes\"\n"),
"metafield-namespace-length": ("metafield::namespace-length", P + "      \"Metafield|«ab|size|integer\": S\n"),
"metafield-namespace-chars": ("metafield::namespace-chars", P + "      \"Metafield|glob«.al|size\": S\n"),
"metafield-namespace-reserved": ("metafield::namespace-reserved", P + "      \"Metafield|«app--x|size\": S\n"),
"metafield-mapsync-namespace": ("metafield::mapsync-namespace", P + "      \"Metafield|«mapsync|key\": S\n"),
"metafield-key-length": ("metafield::key-length", P + "      \"Metafield|global|«s\": S\n"),
"metafield-key-chars": ("metafield::key-chars", P + "      \"Metafield|global|size«#1\": S\n"),
"metafield-legacy-namespace-length": ("metafield::namespace-length", H + "settings: { metafield_rules: legacy }\n" + P[len(H):] + "      \"Metafield|«abcdefghijklmnopqrstu|key\": S\n"),
"metafield-legacy-key-length": ("metafield::key-length", H + "settings: { metafield_rules: legacy }\n" + P[len(H):] + "      \"Metafield|ab|«ke\": S\n"),
"metafield-unknown-type": ("metafield::unknown-type", P + "      \"Metafield|global|size|«integr\": S\n"),
"metafield-description-without-value": ("metafield::description-without-value", P + "      «\"Metafield|global|size@description\": \"'Size'\"\n"),
"metafield-conflicting-types": ("metafield::conflicting-types", P + "      \"Metafield|custom|size|integer\": A\n      «\"Metafield|custom|size|string\": B\n"),
"quantity-unknown-location": ("quantity::unknown-location", V + "        Quantity_«CPH: Stock\n"),
"option-too-many": ("option::too-many", V + "        \"Option|A\": A\n        \"Option|B\": B\n        \"Option|C\": C\n        «\"Option|D\": D\n"),
"option-too-many-names": ("option::too-many", P + "    option_names: [A, B, C, «D]\n"),
"option-index-range": ("option::index", V + "        \"Option|«4\": A\n"),
"option-index-without-names": ("option::index", V + "        \"Option|«2\": A\n"),
"test-entity-undefined": ("test::entity-undefined", P + "tests:\n  - { name: t, entity: «category, input: {}, expect: {} }\n"),
"project-no-profiles": ("project::no-profiles", "mapsync: 1\nprofiles: «{}\n"),
"project-required": ("schema::required", "mapsync: 1\nprofiles:\n  demo: «{ mapping: ../support/minimal.yaml, source: { type: file, path: x.json } }\n"),
"project-mapping-missing": ("project::mapping-missing", "mapsync: 1\nprofiles:\n  demo:\n    mapping: «nowhere.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n"),
"project-source-path": ("project::source-path", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: «{ type: file }\n    target: { type: sandbox }\n"),
"project-source-format": ("project::source-format", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: «../support/data.txt }\n    target: { type: sandbox }\n"),
"project-source-entity": ("project::source-entity", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: «{ type: file, path: ../support/data.csv }\n    target: { type: sandbox }\n"),
"project-csv-option": ("project::csv-option", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json, «group_by: Handle }\n    target: { type: sandbox }\n"),
"project-target-address": ("project::target-address", "mapsync: 1\nprofiles:\n  shop:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: «{ type: shopify, token: \"${T}\" }\n"),
"project-shop": ("project::shop", "mapsync: 1\nprofiles:\n  shop:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: shopify, shop: «\"https://acme.com\", token: \"${T}\" }\n"),
"project-target-url": ("project::target-url", "mapsync: 1\nprofiles:\n  shop:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: shopify, url: «\"ftp://127.0.0.1\", token: \"${T}\" }\n"),
"project-env-syntax": ("project::env-syntax", "mapsync: 1\nprofiles:\n  shop:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: shopify, shop: acme.myshopify.com, token: \"«${1TOKEN}\" }\n"),
"schedule-cron": ("schedule::cron", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n    schedule: { cron: «\"0 */2 * *\" }\n"),
"schedule-timezone": ("schedule::timezone", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n    schedule: { cron: \"0 3 * * *\", timezone: «Europe/Copenhaggen }\n"),
"schedule-every-zero": ("schedule::every", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n    schedule: { every: «0s }\n"),
"schedule-kind": ("schedule::kind", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n    schedule: «{ every: 10m, manual: true }\n"),
"project-run-listen": ("project::run-option", "mapsync: 1\nrun:\n  listen: «localhost\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n"),
"project-state-url": ("project::state-url", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n    state: «.mapsync/state.db\n"),
"project-api-version": ("schema::format", "mapsync: 1\nprofiles:\n  shop:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: shopify, shop: acme.myshopify.com, token: \"${T}\", api_version: «\"2025-02\" }\n"),
"project-api-version-retired": ("project::api-version", "mapsync: 1\nprofiles:\n  shop:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: shopify, shop: acme.myshopify.com, token: \"${T}\", api_version: «\"2025-01\" }\n"),
"project-rest-unknown-key": ("schema::unknown-key", R + RE + "          list: { path: /products, «record: data }\n" + RT),
"project-rest-paging-style": ("schema::unknown-key", R + RE + "          list: { path: /products, records: data }\n          paging: { style: page, «cursor: meta.next }\n" + RT),
"project-rest-paging-required": ("schema::required", R + RE + "          list: { path: /products, records: data }\n          paging: «{ style: cursor, param: after }\n" + RT),
"project-rest-target-key": ("schema::required", T + "          list: «{ path: /products, records: data }\n" + TW),
"project-rest-target-template": ("template::syntax", T + TL + "          create: { path: /products, id: data.id }\n          update: { path: «\"/products/{{ id\" }\n"),
"project-rest-target-mismatch": ("project::target-mismatch", T.replace("../support/rest.yaml", "../support/minimal.yaml").replace("type: rest", "type: «rest") + TL + TW),
"target-unknown-field-rest-variant": ("target::unknown-field", "mapsync: 1\ntarget: rest\nentities:\n  product:\n    key: ItemNo\n    map:\n      name: Name\n    variants:\n      from: Variants\n      map:\n        «sku: Sku\n"),
"schema-match-long-form": ("schema::type", P + "    match: «{ source: Sku }\n"),
"match-unknown-field": ("match::unknown-field", P + "    match: { source: Sku, target: «skus }\n"),
"match-long-form": ("match::long-form", P + "    match: «Sku\n"),
"match-unsupported-rest": ("match::unsupported", "mapsync: 1\ntarget: rest\nentities:\n  product:\n    key: ItemNo\n    «match: { source: Sku, target: sku }\n    map:\n      name: Name\n"),
"project-unknown-type": ("project::unknown-type", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: «shopfy }\n"),
"schema-direction": ("schema::type", P + "      vendor: «{ from: Brand, direction: upstream }\n"),
"two-way-field-unsupported": ("two-way::field-unsupported", V + "        sku: Sku\n        \"Option|Size\": Size\n        price: { from: Price, direction: «both }\n"),
"two-way-field-unsupported-quantity": ("two-way::field-unsupported", H + "locations: { CPH: { name: C } }\n" + V[len(H):] + "        sku: Sku\n        \"Option|Size\": Size\n        Quantity_CPH: { from: Stock, direction: «to_source }\n"),
"two-way-needs-path": ("two-way::needs-path", P + "      vendor: { template: \"{{ Brand }}\", direction: «to_source }\n"),
"two-way-needs-path-transform": ("two-way::needs-path", P + "      vendor: { from: Brand, transform: [trim], direction: «both }\n"),
"two-way-newest-needs-updated-at": ("two-way::newest-needs-updated-at", P + "      vendor: { from: Brand, direction: both, conflict: «newest }\n"),
"two-way-source-not-writable": ("two-way::source-not-writable", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/two-way.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n@@tests/data/validate/support/two-way.yaml 8:41"),
"two-way-source-not-writable-rest": ("two-way::source-not-writable", R.replace("minimal.yaml", "two-way.yaml") + RE + "          list: { path: /products, records: data }\n" + RT + "@@tests/data/validate/support/two-way.yaml 8:41"),
}
warn_cases = {
"warn-metafield-case-collision": ("metafield::case-collision", P + "      \"Metafield|Global|Size\": A\n      «\"Metafield|Global|size\": B\n"),
"warn-metafield-deprecated-type": ("metafield::deprecated-type", P + "      \"Metafield|Global|Size|«string\": A\n"),
"warn-category-images": ("image::category-multiple", H + "entities:\n  category:\n    key: Id\n    map: { title: Name }\n    images:\n      - { from: A }\n      - «{ from: B }\n"),
"warn-sync-empty": ("settings::sync-empty", H + "settings:\n  sync: «[]\n"),
"warn-delete-and-deactivate": ("settings::delete-and-deactivate", H + "settings:\n  sync: «[add, delete, deactivate]\n"),
"warn-no-entities": ("mapping::no-entities", "«mapsync: 1\nname: empty\n"),
"warn-categories-without-category": ("entity::categories-without-category", H + "entities:\n  product:\n    key: K\n    «categories: Cats\n    map: { title: Name }\n"),
"warn-secret-in-file": ("project::secret-in-file", "mapsync: 1\nprofiles:\n  shop:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: shopify, shop: acme.myshopify.com, token: «shpat_123 }\n"),
"warn-token-missing": ("project::token-missing", "mapsync: 1\nprofiles:\n  shop:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: ../support/data.json }\n    target: «{ type: shopify, shop: acme.myshopify.com }\n"),
"project-unknown-source-type": ("project::unknown-type", "mapsync: 1\nprofiles:\n  pim:\n    mapping: ../support/minimal.yaml\n    source: { type: «rset, base_url: \"https://pim.example.com\", token: \"${PIM_TOKEN}\" }\n    target: { type: sandbox }\n"),
"warn-rest-secret-in-file": ("project::secret-in-file", R + "      auth: { bearer: «abc123 }\n" + RE + "          list: { path: /products, records: data }\n" + RT),
"warn-rest-target-deactivate": ("schema::required", T + TL + TW + "          «deactivate: { path: \"/products/{{ id }}\", body: { active: false } }\n"),
"warn-source-missing": ("project::source-missing", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/minimal.yaml\n    source: { type: file, path: «../support/absent.json }\n    target: { type: sandbox }\n"),
"warn-writeback-file": ("project::writeback-ignored", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/writeback.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n@@tests/data/validate/support/writeback.yaml 5:5"),
"warn-writeback-date-file": ("project::writeback-ignored", "mapsync: 1\nprofiles:\n  demo:\n    mapping: ../support/writeback-date.yaml\n    source: { type: file, path: ../support/data.json }\n    target: { type: sandbox }\n@@tests/data/validate/support/writeback-date.yaml 5:5"),
"warn-two-way-conflict-without-both": ("two-way::conflict-without-both", P + "      vendor: { from: Brand, «conflict: manual }\n"),
}
out = "invalid"
for name,(code,body) in list(cases.items()) + list(warn_cases.items()):
    if "«" not in body:
        # The diagnostic is in another file: `@ FILE LINE:COL` after the body.
        body, where = body.split("@@")
        open(f"{out}/{name}.yaml","w").write(f"# expect: {code} {where}\n" + body)
        continue
    i = body.index("«")
    before = body[:i]
    body2 = body.replace("«","")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n")+1) + 1
    hdr = f"# expect: {code} {line+1}:{col}\n"
    open(f"{out}/{name}.yaml","w").write(hdr + body2)
print(len(cases), "error cases,", len(warn_cases), "warning cases")
