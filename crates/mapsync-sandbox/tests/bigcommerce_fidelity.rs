//! The emulated BigCommerce store against BigCommerce's published OpenAPI
//! files (`testdata/bigcommerce`): every route it serves exists there, and
//! in a scripted session (create, list, update, batches with 207, 409,
//! 422, images by URL and upload, metafields, inventory, category trees)
//! every request the test sends and every answer the store gives validates
//! against the files' schemas.

mod bc_common;

use bc_common::{config, image_server, spec, start, PNG};
use mapsync_sandbox::bigcommerce;
use serde_json::{json, Value};

#[test]
fn every_route_exists_in_the_openapi_files() {
    let spec = spec();
    let missing: Vec<String> = bigcommerce::routes()
        .into_iter()
        .filter(|(m, p)| !spec.has_route(m, p))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "served but not in the OpenAPI files: {missing:#?}"
    );
    // The parameter names are the files' too.
    for (m, p) in bigcommerce::routes() {
        let op = spec.operation(m, p).unwrap();
        assert_eq!(op.template, p, "{m} {p}");
    }
}

#[test]
fn the_checker_refuses_what_the_files_do_not_allow() {
    let spec = spec();
    assert!(spec.check_request("GET", "/catalog/nothing", None).is_err());
    assert!(spec
        .check_request("PATCH", "/catalog/products", None)
        .is_err());
    assert!(spec
        .check_request("GET", "/catalog/products?include=variants&nonsense=1", None)
        .is_err());
    assert!(spec
        .check_request("GET", "/catalog/products?limit=many", None)
        .is_err());
    assert!(spec
        .check_request(
            "PUT",
            "/inventory/adjustments/absolute",
            Some(&json!({"items": [{"location_id": "one", "variant_id": 1, "quantity": 1}]}))
        )
        .is_err());
    assert!(spec
        .check_response(
            "GET",
            "/catalog/products/1",
            200,
            &json!({"data": {"id": "x"}})
        )
        .is_err());
    assert!(!spec.documents("GET", "/catalog/products", 500));
}

async fn category(c: &bc_common::Client, name: &str, parent: Option<u64>) -> u64 {
    // The files require both `tree_id` and `parent_id` (0 at the top).
    let body = json!({"name": name, "tree_id": 1, "parent_id": parent.unwrap_or(0)});
    let a = c
        .call("POST", "/catalog/trees/categories", Some(json!([body])))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["data"][0]["category_id"].as_u64().unwrap()
}

#[tokio::test]
async fn a_scripted_session_validates_against_the_openapi_files() {
    let c = start(config()).await;
    let images = image_server(PNG).await;

    // Locations and trees.
    let a = c.call("GET", "/inventory/locations", None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["data"][0]["id"], 1);
    let a = c
        .call(
            "POST",
            "/inventory/locations",
            Some(json!([{"label": "Warehouse", "code": "WH"}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c
        .call("GET", "/inventory/locations?location_id:in=1,2", None)
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let a = c.call("GET", "/catalog/trees", None).await;
    assert_eq!(a.body["data"][0]["name"], "Default");

    // Categories through the tree API.
    let shirts = category(&c, "Shirts", None).await;
    let tees = category(&c, "Tees", Some(shirts)).await;
    let a = c
        .call("POST", "/catalog/trees/categories", Some(json!([{"name": "Tees", "parent_id": shirts, "tree_id": 1}, {"name": "Polos", "parent_id": shirts, "tree_id": 1}])))
        .await;
    assert_eq!(a.status, 207, "{}", a.body);
    assert_eq!(a.body["meta"]["failed"], 1);
    assert!(
        a.body["errors"]["errors"]["0.name"].is_string(),
        "{}",
        a.body
    );
    let a = c.call("GET", "/catalog/trees/1/categories", None).await;
    assert_eq!(a.body["data"][0]["children"][0]["name"], "Tees");
    let a = c
        .call(
            "PUT",
            "/catalog/trees/categories",
            Some(json!([{"category_id": tees, "is_visible": false}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c
        .call(
            "GET",
            &format!("/catalog/trees/categories?category_id:in={tees}"),
            None,
        )
        .await;
    assert_eq!(a.body["data"][0]["is_visible"], false);
    let a = c
        .call_invalid(
            "POST",
            "/catalog/trees/categories",
            Some(json!([{"name": "", "tree_id": 1, "parent_id": 0}])),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);

    // Brands.
    let a = c
        .call("POST", "/catalog/brands", Some(json!({"name": "Acme"})))
        .await;
    assert_eq!(a.status, 200);
    let a = c
        .call("POST", "/catalog/brands", Some(json!({"name": "Acme"})))
        .await;
    assert_eq!(a.status, 409);

    // A product with options and variants.
    let product = json!({
        "name": "Shirt", "type": "physical", "sku": "SHIRT", "price": 20.5, "weight": 1,
        "categories": [tees], "brand_name": "Acme", "is_visible": true,
        "description": "<p>Soft</p>",
        "custom_fields": [{"name": "Material", "value": "Cotton"}],
        "variants": [
            {"sku": "SHIRT-S", "price": 20.5, "option_values": [{"option_display_name": "Size", "label": "S"}]},
            {"sku": "SHIRT-M", "price": 21, "option_values": [{"option_display_name": "Size", "label": "M"}]},
        ],
    });
    let a = c
        .call("POST", "/catalog/products", Some(product.clone()))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let pid = a.body["data"]["id"].as_u64().unwrap();
    assert_eq!(a.body["data"]["variants"].as_array().unwrap().len(), 2);
    assert_eq!(a.body["data"]["custom_fields"][0]["name"], "Material");
    let v_s = a.body["data"]["variants"][0]["id"].as_u64().unwrap();

    // Duplicates: name, then SKU.
    let a = c
        .call("POST", "/catalog/products", Some(product.clone()))
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body["errors"]["name"].is_string(), "{}", a.body);
    let mut dup_sku = product.clone();
    dup_sku["name"] = json!("Another shirt");
    dup_sku["variants"] = json!([]);
    dup_sku["sku"] = json!("SHIRT-M");
    let a = c.call("POST", "/catalog/products", Some(dup_sku)).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body["errors"]["sku"].is_string(), "{}", a.body);
    // Invalid input.
    let a = c
        .call_invalid(
            "POST",
            "/catalog/products",
            Some(json!({"name": "X", "type": "physical", "weight": 1, "price": -1})),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body["errors"]["price"].is_string());
    let a = c
        .call_invalid("POST", "/catalog/products", Some(json!({"name": "X"})))
        .await;
    assert_eq!(a.status, 422);

    // A simple product.
    let a = c
        .call(
            "POST",
            "/catalog/products",
            Some(
                json!({"name": "Mug", "type": "physical", "sku": "MUG", "price": 5, "weight": 0.5}),
            ),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mug = a.body["data"]["id"].as_u64().unwrap();
    let mug_variant = a.body["data"]["base_variant_id"].as_u64().unwrap();

    // Reads.
    let a = c
        .call(
            "GET",
            "/catalog/products?include=variants,images,custom_fields,options&page=1&limit=1",
            None,
        )
        .await;
    assert_eq!(a.body["meta"]["pagination"]["total"], 2);
    assert_eq!(a.body["meta"]["pagination"]["total_pages"], 2);
    assert_eq!(a.body["data"][0]["options"][0]["display_name"], "Size");
    let a = c.call("GET", "/catalog/products?sku=SHIRT-M", None).await;
    assert_eq!(a.body["data"][0]["id"], pid);
    let a = c
        .call(
            "GET",
            &format!("/catalog/products?id:in={mug}&include=variants"),
            None,
        )
        .await;
    assert_eq!(a.body["data"][0]["name"], "Mug", "mug {mug}: {}", a.body);
    let a = c
        .call(
            "GET",
            "/catalog/products?date_modified:min=2020-01-01T00:00:00%2B00:00",
            None,
        )
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let a = c
        .call(
            "GET",
            "/catalog/products?date_modified:max=2020-01-01",
            None,
        )
        .await;
    assert_eq!(a.body["data"], json!([]));
    let a = c.call("GET", "/catalog/products?name=Mug", None).await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 1);
    let a = c
        .call(
            "GET",
            &format!("/catalog/products/{pid}?include=variants,options"),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    let a = c.call("GET", "/catalog/products/999999", None).await;
    assert_eq!(a.status, 404);

    // Updates: one, then a batch with one failure (207), then all failing.
    let a = c
        .call(
            "PUT",
            &format!("/catalog/products/{mug}"),
            Some(json!({"price": 6, "is_visible": false})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["price"], 6);
    let a = c
        .call(
            "PUT",
            "/catalog/products",
            Some(json!([{"id": mug, "price": 7}, {"id": pid, "name": "Mug"}])),
        )
        .await;
    assert_eq!(a.status, 207, "{}", a.body);
    assert_eq!(a.body["data"][0]["price"], 7);
    assert!(
        a.body["errors"]["errors"]["1.name"].is_string(),
        "{}",
        a.body
    );
    let a = c
        .call(
            "PUT",
            "/catalog/products",
            Some(json!([{"id": pid, "name": "Mug"}])),
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    let eleven: Vec<Value> = (0..11).map(|_| json!({"id": mug, "price": 1})).collect();
    let a = c
        .call("PUT", "/catalog/products", Some(Value::Array(eleven)))
        .await;
    assert_eq!(a.status, 413);

    // Variants, options, option values.
    let a = c
        .call("GET", &format!("/catalog/products/{pid}/variants"), None)
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let a = c
        .call("GET", &format!("/catalog/products/{pid}/options"), None)
        .await;
    let size = a.body["data"][0]["id"].as_u64().unwrap();
    let a = c
        .call(
            "POST",
            &format!("/catalog/products/{pid}/options/{size}/values"),
            Some(json!({"label": "L", "sort_order": 3})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let l = a.body["data"]["id"].as_u64().unwrap();
    let a = c
        .call("POST", &format!("/catalog/products/{pid}/variants"), Some(json!({"sku": "SHIRT-L", "price": 22, "option_values": [{"id": l, "option_id": size}]})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v_l = a.body["data"]["id"].as_u64().unwrap();
    let a = c
        .call(
            "POST",
            &format!("/catalog/products/{pid}/variants"),
            Some(json!({"sku": "SHIRT-L2", "option_values": [{"id": l, "option_id": size}]})),
        )
        .await;
    assert_eq!(a.status, 409, "the same option values twice: {}", a.body);
    let a = c
        .call(
            "PUT",
            &format!("/catalog/products/{pid}/variants/{v_l}"),
            Some(json!({"price": 23, "purchasing_disabled": true})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c
        .call(
            "PUT",
            "/catalog/variants",
            Some(json!([{"id": v_s, "price": 19}, {"id": v_l, "sku": "MUG"}])),
        )
        .await;
    assert_eq!(a.status, 207, "{}", a.body);
    assert!(
        a.body["errors"]["errors"]["1.sku"].is_string(),
        "{}",
        a.body
    );
    spec()
        .check_response("PUT", "/catalog/products", 207, &a.body)
        .expect("the variants batch's 207 has the products batch's shape");
    let a = c
        .call(
            "PUT",
            "/catalog/variants",
            Some(json!([{"id": v_s, "price": 18}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c.call("GET", "/catalog/variants?sku=SHIRT-S", None).await;
    assert_eq!(a.body["data"][0]["price"], 18);
    let a = c
        .call(
            "GET",
            &format!("/catalog/products/{pid}/options/{size}"),
            None,
        )
        .await;
    assert_eq!(a.body["data"]["option_values"].as_array().unwrap().len(), 3);

    // A variant's one image.
    let a = c
        .call(
            "POST",
            &format!("/catalog/products/{pid}/variants/{v_s}/image"),
            Some(json!({"image_url": format!("{images}/small.png")})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let vurl = a.body["data"]["image_url"].as_str().unwrap().to_string();
    let a = c
        .call(
            "GET",
            &format!("/catalog/products/{pid}/variants/{v_s}"),
            None,
        )
        .await;
    assert_eq!(a.body["data"]["image_url"], vurl.as_str());
    let bytes = c
        .http
        .get(&vurl)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], PNG);

    // Custom fields.
    let a = c
        .call(
            "POST",
            &format!("/catalog/products/{pid}/custom-fields"),
            Some(json!({"name": "Fit", "value": "Slim"})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let cf = a.body["data"]["id"].as_u64().unwrap();
    let a = c
        .call(
            "PUT",
            &format!("/catalog/products/{pid}/custom-fields/{cf}"),
            Some(json!({"value": "Regular"})),
        )
        .await;
    assert_eq!(a.body["data"]["value"], "Regular");
    let a = c
        .call(
            "GET",
            &format!("/catalog/products/{pid}/custom-fields"),
            None,
        )
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let a = c
        .call(
            "DELETE",
            &format!("/catalog/products/{pid}/custom-fields/{cf}"),
            None,
        )
        .await;
    assert_eq!(a.status, 204);

    // Metafields on a product, a variant, a category, a brand.
    let mf =
        json!({"namespace": "mapsync", "key": "key", "value": "shirt", "permission_set": "read"});
    for path in [
        format!("/catalog/products/{pid}/metafields"),
        format!("/catalog/products/{pid}/variants/{v_s}/metafields"),
        format!("/catalog/categories/{tees}/metafields"),
        "/catalog/brands/1/metafields".to_string(),
    ] {
        let a = c.call("POST", &path, Some(mf.clone())).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        let id = a.body["data"]["id"].as_u64().unwrap();
        let a = c.call("POST", &path, Some(mf.clone())).await;
        assert_eq!(a.status, 409, "{path}: {}", a.body);
        let mut changed = mf.clone();
        changed["value"] = json!("changed");
        let a = c.call("PUT", &format!("{path}/{id}"), Some(changed)).await;
        assert_eq!(a.body["data"]["value"], "changed");
        let a = c
            .call("GET", &format!("{path}?namespace=mapsync&key=key"), None)
            .await;
        assert_eq!(a.body["data"].as_array().unwrap().len(), 1);
        let a = c.call("GET", &format!("{path}/{id}"), None).await;
        assert_eq!(a.status, 200);
    }
    let a = c
        .call_invalid(
            "POST",
            &format!("/catalog/products/{pid}/metafields"),
            Some(json!({"namespace": "x", "key": "y", "value": "z"})),
        )
        .await;
    assert_eq!(a.status, 422, "no permission_set: {}", a.body);

    // Images: by URL, by upload, a failed fetch, one thumbnail.
    let a = c
        .call(
            "POST",
            &format!("/catalog/products/{pid}/images"),
            Some(json!({"image_url": format!("{images}/front.png"), "sort_order": 0})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["is_thumbnail"], true);
    let first = a.body["data"]["id"].as_u64().unwrap();
    let file_url = a.body["data"]["url_standard"].as_str().unwrap().to_string();
    let bytes = c
        .http
        .get(&file_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], PNG);
    let a = c
        .upload(
            pid,
            "back.png",
            PNG,
            &[
                ("is_thumbnail", "true"),
                ("sort_order", "1"),
                ("description", "Back"),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let second = a.body["data"]["id"].as_u64().unwrap();
    let a = c
        .call("GET", &format!("/catalog/products/{pid}/images"), None)
        .await;
    let thumbs: Vec<u64> = a.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["is_thumbnail"] == true)
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(thumbs, vec![second]);
    let a = c
        .call(
            "POST",
            &format!("/catalog/products/{pid}/images"),
            Some(json!({"image_url": format!("{images}/missing.png")})),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = c
        .call(
            "POST",
            &format!("/catalog/products/{pid}/images"),
            Some(json!({"image_url": format!("{images}/text.png")})),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = c
        .call(
            "PUT",
            &format!("/catalog/products/{pid}/images/{first}"),
            Some(json!({"is_thumbnail": true, "description": "Front"})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c
        .call(
            "DELETE",
            &format!("/catalog/products/{pid}/images/{first}"),
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    let a = c
        .call(
            "GET",
            &format!("/catalog/products/{pid}?include=images,primary_image"),
            None,
        )
        .await;
    assert_eq!(a.body["data"]["images"].as_array().unwrap().len(), 1);
    assert_eq!(a.body["data"]["images"][0]["is_thumbnail"], true);

    // Inventory per location.
    let a = c
        .call(
            "PUT",
            "/inventory/adjustments/absolute",
            Some(json!({"reason": "sync", "items": [
                {"location_id": 1, "variant_id": v_s, "quantity": 4},
                {"location_id": 2, "sku": "SHIRT-M", "quantity": 6},
                {"location_id": 1, "product_id": mug, "quantity": 9},
            ]})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["transaction_id"].is_string());
    let a = c
        .call(
            "PUT",
            "/inventory/adjustments/absolute",
            Some(json!({"items": [{"location_id": 99, "variant_id": v_s, "quantity": 1}]})),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = c
        .call(
            "GET",
            &format!("/inventory/items?variant_id:in={v_s},{mug_variant}"),
            None,
        )
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let a = c.call("GET", "/inventory/locations/2/items", None).await;
    let m = a.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["identity"]["sku"] == "SHIRT-M")
        .unwrap()
        .clone();
    assert_eq!(m["available_to_sell"], 6);
    let a = c
        .call("GET", &format!("/catalog/products/{pid}"), None)
        .await;
    assert_eq!(a.body["data"]["inventory_level"], 10);

    // Images in a product body, fetched from their URL; sparse fields.
    let a = c
        .call(
            "POST",
            "/catalog/products",
            Some(json!({"name": "Poster", "type": "physical", "price": 3, "weight": 0.2,
                "images": [
                    {"image_url": format!("{images}/poster-a.png"), "sort_order": 1},
                    {"image_url": format!("{images}/poster-b.png"), "sort_order": 0, "is_thumbnail": true},
                ]})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let poster = a.body["data"]["id"].as_u64().unwrap();
    let imgs = a.body["data"]["images"].as_array().unwrap();
    assert_eq!(imgs.len(), 2);
    assert_eq!(
        imgs[0]["is_thumbnail"], true,
        "sorted by sort_order: {}",
        a.body
    );
    let a = c
        .call(
            "PUT",
            &format!("/catalog/products/{poster}"),
            Some(json!({"images": [{"image_url": format!("{images}/missing.png")}]})),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.body["errors"]["images.0.image_url"].is_string(),
        "{}",
        a.body
    );
    let a = c
        .call(
            "GET",
            &format!("/catalog/products/{poster}?include_fields=name,price&include=images"),
            None,
        )
        .await;
    let keys: Vec<&String> = a.body["data"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "name", "price", "images"], "{}", a.body);
    let a = c
        .call("GET", "/catalog/products?exclude_fields=description", None)
        .await;
    assert!(a.body["data"][0].get("description").is_none());
    let a = c
        .call("DELETE", &format!("/catalog/products/{poster}"), None)
        .await;
    assert_eq!(a.status, 204);

    // Batch metafields: one request for many resources.
    let mfs = json!([
        {"resource_id": mug, "namespace": "custom", "key": "a", "value": "1", "permission_set": "read"},
        {"resource_id": mug, "namespace": "custom", "key": "b", "value": "2", "permission_set": "write"},
        {"resource_id": mug, "namespace": "custom", "key": "a", "value": "3", "permission_set": "read"},
    ]);
    let a = c
        .call("POST", "/catalog/products/metafields", Some(mfs))
        .await;
    assert_eq!(a.status, 422, "partial success: {}", a.body);
    assert_eq!(a.body["meta"]["failed"], 1);
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let first_mf = a.body["data"][0]["id"].as_u64().unwrap();
    let a = c
        .call(
            "GET",
            "/catalog/products/metafields?namespace=custom&limit=10",
            None,
        )
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let a = c
        .call(
            "PUT",
            "/catalog/products/metafields",
            Some(json!([{"id": first_mf, "namespace": "custom", "key": "a", "value": "9", "permission_set": "read"}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"][0]["value"], "9");
    let a = c
        .call(
            "POST",
            "/catalog/variants/metafields",
            Some(json!([{"resource_id": v_s, "namespace": "custom", "key": "v", "value": "1", "permission_set": "read"}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c
        .call(
            "DELETE",
            "/catalog/products/metafields",
            Some(json!([first_mf])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"], json!([first_mf]));
    let a = c.call("GET", "/catalog/categories/metafields", None).await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 1);

    // Deletes.
    let a = c
        .call(
            "DELETE",
            &format!("/catalog/products/{pid}/variants/{v_l}"),
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    let a = c
        .call(
            "DELETE",
            &format!("/catalog/products/{pid}/options/{size}/values/{l}"),
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    let a = c
        .call(
            "DELETE",
            &format!("/catalog/trees/categories?category_id:in={tees}"),
            None,
        )
        .await;
    assert_eq!(a.status, 202);
    let a = c
        .call("GET", &format!("/catalog/products/{pid}"), None)
        .await;
    assert_eq!(a.body["data"]["categories"], json!([]));
    let a = c
        .call("DELETE", &format!("/catalog/products/{mug}"), None)
        .await;
    assert_eq!(a.status, 204);
    let a = c
        .call("DELETE", &format!("/catalog/products?id:in={pid}"), None)
        .await;
    assert_eq!(a.status, 204);
    let a = c.call("GET", "/catalog/products", None).await;
    assert_eq!(a.body["data"], json!([]));

    // Statuses the files do not document for an operation: refusals (their
    // bodies were checked as v3 error bodies), and the variants batch's 207
    // (the same body as the products batch's, checked below).
    let undocumented = c.undocumented.lock().unwrap().clone();
    for u in &undocumented {
        let status: u16 = u.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(
            status >= 400 || u.starts_with("PUT /catalog/variants 207"),
            "undocumented answer: {u}"
        );
    }
    eprintln!("answers with statuses the files do not document: {undocumented:#?}");
    c.store.shutdown().await.unwrap();
}

#[tokio::test]
async fn recorded_requests_can_be_checked_against_the_files() {
    let c = start(mapsync_sandbox::bigcommerce::BcConfig {
        record_requests: true,
        ..config()
    })
    .await;
    let a = c
        .call(
            "POST",
            "/catalog/products",
            Some(json!({"name": "R", "type": "physical", "price": 1, "weight": 1})),
        )
        .await;
    let pid = a.body["data"]["id"].as_u64().unwrap();
    c.call(
        "GET",
        "/catalog/products?include=variants&limit=250&page=1",
        None,
    )
    .await;
    c.upload(pid, "r.png", PNG, &[("is_thumbnail", "true")])
        .await;
    c.call(
        "PUT",
        "/catalog/products",
        Some(json!([{"id": pid, "price": 2}])),
    )
    .await;
    let log = c.store.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(
        log[1].path,
        "/catalog/products?include=variants&limit=250&page=1"
    );
    assert!(log[2].multipart && log[2].body.is_none());
    for r in &log {
        spec()
            .check_request(&r.method, &r.path, r.body.as_ref())
            .unwrap_or_else(|e| panic!("{} {}: {e:?}", r.method, r.path));
    }
    // Over HTTP too.
    let v: Value = c
        .http
        .get(format!("{}/__sandbox/requests", c.store.url()))
        .header("X-Auth-Token", bc_common::TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["requests"].as_array().unwrap().len(), 4);
    assert_eq!(v["requests"][0]["body"]["name"], "R");
}
