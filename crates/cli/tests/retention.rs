//! `evident retention run` and `[retention]` through the real binary: a tier below its
//! legal floor is refused at start naming both; the explicit override is a
//! `config_change` event; a run purges what expired, and `verify` passes and counts it.

mod util;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use util::{evident, init_with_events, run, stderr, stdout};

fn config(dir: &Path, override_floors: bool) -> std::path::PathBuf {
    let path = dir.join("evident.toml");
    std::fs::write(
        &path,
        format!(
            "[retention]\noverride_floors = {override_floors}\narchive_dir = \"archive\"\n\
             [retention.floors]\npayload = \"180d\"\n\
             [[retention.tiers]]\nname = \"short\"\npayload = \"1s\"\nsearch_text = \"forever\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_tier_below_its_floor_is_refused_at_start_naming_tier_and_floor() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_with_events(&data, 3);
    let file = config(dir.path(), false);
    for args in [
        vec!["retention", "run"],
        vec!["serve", "--listen", "127.0.0.1:0"],
    ] {
        let mut args = args.clone();
        args.extend(["--config", file.to_str().unwrap()]);
        let out = run(&data, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("retention.tiers[0].payload"), "{text}");
        assert!(text.contains("retention.floors.payload (180d)"), "{text}");
        assert!(text.contains("override_floors"), "{text}");
    }
    // A duration that is not one, named by its key.
    std::fs::write(
        &file,
        "[[retention.tiers]]\nname = \"x\"\npayload = \"ninety days\"\n",
    )
    .unwrap();
    let out = run(
        &data,
        &["retention", "run", "--config", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("retention.tiers[0].payload"),
        "{}",
        stderr(&out)
    );
    // The purge runs where the store is.
    let out = evident()
        .args(["retention", "run", "--server", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn an_overridden_floor_is_recorded_and_the_run_purges_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_with_events(&data, 5);
    let file = config(dir.path(), true);
    // The checkpoint the ingest signed must be older than the tier's one second.
    std::thread::sleep(Duration::from_millis(1_500));
    let out = run(
        &data,
        &[
            "retention",
            "run",
            "--json",
            "--config",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["blobs"], Value::from(5), "{report}");
    assert_eq!(
        report["by_tier"]["short"]["blobs"],
        Value::from(5),
        "{report}"
    );
    let archive = report["archive"].as_str().expect("archived");
    assert!(archive.starts_with(dir.path().join("archive").to_str().unwrap()));
    assert_eq!(std::fs::read_to_string(archive).unwrap().lines().count(), 5);

    let search = |kind: &str| -> Vec<Value> {
        let out = run(&data, &["search", "--type", kind, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let answer: Value = serde_json::from_str(&stdout(&out)).unwrap();
        answer["events"].as_array().unwrap().clone()
    };
    let changes = search("config_change");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let overrides = &changes[0]["config_change"]["retention_floor_override"];
    assert_eq!(overrides[0]["key"], "retention.tiers[0].payload");
    assert_eq!(overrides[0]["floor"], "180d");
    let purges = search("retention_purge");
    assert_eq!(purges.len(), 1);
    assert_eq!(purges[0]["retention_purge"]["run_id"], report["run_id"]);

    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("5 blobs were purged by retention"),
        "{}",
        stdout(&out)
    );
    // The same override is not recorded twice.
    let out = run(
        &data,
        &["retention", "run", "--config", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(search("config_change").len(), 1);
    assert_eq!(search("retention_purge").len(), 2);
}
