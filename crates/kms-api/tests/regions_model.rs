//! The region list follows the vendored botocore `endpoints.json` (the `aws` partition), and
//! KMS serves every region in it. Regenerate the vendored file with:
//!
//! ```text
//! python3 -c 'import json,botocore,os; d=json.load(open(os.path.join(os.path.dirname(botocore.__file__),"data","endpoints.json"))); p=[x for x in d["partitions"] if x["partition"]=="aws"][0]; json.dump({"source":"botocore/data/endpoints.json","botocore":botocore.__version__,"partition":"aws","regions":{k:p["regions"][k] for k in sorted(p["regions"])},"kms":sorted(k for k in p["services"]["kms"]["endpoints"] if k in p["regions"])},open("crates/kms-api/tests/data/endpoints-aws.json","w"),indent=1)'
//! ```

use ebsim_kms_api::{AWS_REGIONS, Region};

#[test]
fn regions_follow_the_vendored_endpoints() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/endpoints-aws.json"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let model: Vec<&str> = v["regions"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(model, AWS_REGIONS.to_vec());
    let kms: Vec<&str> = v["kms"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(kms, AWS_REGIONS.to_vec(), "KMS serves every region");
    assert_eq!(Region::all().count(), 34);
}
