//! The dependency rule (ARCHITECTURE.md): arrows point down, cli → server → store →
//! core → tlog, and cli → bench → store → core; `tlog` and `core` stay pure (no tokio,
//! database, HTTP or async), and neither the server nor the bench talks SQL itself.

use std::process::Command;

fn tree(package: &str, depth: Option<u32>) -> String {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "tree",
        "--offline",
        "-e",
        "normal",
        "--prefix",
        "none",
        "-p",
        package,
    ]);
    if let Some(depth) = depth {
        cmd.args(["--depth", &depth.to_string()]);
    }
    let out = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn crate_names(tree: &str) -> Vec<String> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn pure_crates_have_no_io_dependencies() {
    for package in ["evident-tlog", "evident-core", "evident-policy"] {
        let names = crate_names(&tree(package, None));
        for forbidden in [
            "tokio",
            "rusqlite",
            "axum",
            "hyper",
            "reqwest",
            "sqlx",
            "tokio-postgres",
            "mio",
        ] {
            assert!(
                !names.iter().any(|n| n == forbidden),
                "{package} must stay pure but depends on {forbidden}"
            );
        }
    }
}

#[test]
fn arrows_point_down() {
    let direct = |p| crate_names(&tree(p, Some(1)));
    let tlog = direct("evident-tlog");
    assert!(!tlog
        .iter()
        .any(|n| n.starts_with("evident-") && n != "evident-tlog"));
    let core = direct("evident-core");
    assert!(!core.iter().any(|n| [
        "evident-store",
        "evident-server",
        "evident-bench",
        "evident-cli"
    ]
    .contains(&n.as_str())));
    // Policies sit beside core: evaluated by the server, never storing or serving.
    let policy = direct("evident-policy");
    assert!(!policy.iter().any(|n| [
        "evident-store",
        "evident-server",
        "evident-bench",
        "evident-cli"
    ]
    .contains(&n.as_str())));
    let store = direct("evident-store");
    assert!(!store
        .iter()
        .any(|n| ["evident-server", "evident-bench", "evident-cli"].contains(&n.as_str())));
    let server = direct("evident-server");
    assert!(!server
        .iter()
        .any(|n| n == "evident-cli" || n == "evident-bench"));
    // The bench drives the real binary from outside: it needs the store's sizes and
    // the core's event model, never the server's internals or the CLI.
    let bench = direct("evident-bench");
    assert!(bench.iter().any(|n| n == "evident-store"));
    assert!(!bench
        .iter()
        .any(|n| n == "evident-server" || n == "evident-cli"));
    assert!(
        !bench
            .iter()
            .any(|n| n == "rusqlite" || n == "sqlx" || n == "tokio-postgres"),
        "the bench must not talk SQL itself"
    );
    assert!(
        !server
            .iter()
            .any(|n| n == "rusqlite" || n == "sqlx" || n == "tokio-postgres"),
        "the server must not talk SQL itself"
    );
}
