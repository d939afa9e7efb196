//! `ksef profile …`: the config file, `--json` shapes, usage errors and the production guard.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::Harness;

#[test]
fn profiles_are_added_listed_shown_switched_and_removed() {
    let h = Harness::start();
    let ctx = format!("Nip:{}", h.nip);
    let added = h.json(
        &[
            "profile",
            "add",
            "a",
            "-e",
            "test",
            "-c",
            &ctx,
            "--credential",
            "token",
            "--secret",
            "env:MY_KSEF_TOKEN",
        ],
        0,
    );
    assert_eq!(added["name"], "a");
    assert_eq!(added["environment"], "test");
    assert_eq!(added["credential"], "token");
    assert_eq!(added["secret"], "env:MY_KSEF_TOKEN");
    assert_eq!(
        added["default"], true,
        "the first profile becomes the default"
    );
    assert_eq!(added["loggedIn"], false);
    h.ok(&[
        "profile",
        "add",
        "b",
        "-e",
        &h.url,
        "-c",
        &ctx,
        "--credential",
        "test-identity",
    ]);

    let list = h.json_lines(&["profile", "list"]);
    let names: Vec<&str> = list.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list[0]["default"], true);
    assert_eq!(list[1]["default"], false);

    h.ok(&["profile", "use", "b"]);
    let shown = h.json(&["profile", "show"], 0);
    assert_eq!(shown["name"], "b");
    assert_eq!(shown["environment"], h.url.as_str());
    let text = h.ok(&["profile", "list"]);
    assert!(text.contains("* b"), "{text}");

    // The file is TOML, holds no secret and is readable by the owner only.
    let toml = std::fs::read_to_string(h.config_dir().join("config.toml")).unwrap();
    assert!(toml.contains("default = \"b\""), "{toml}");
    assert!(toml.contains("secret = \"env:MY_KSEF_TOKEN\""), "{toml}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(h.config_dir().join("config.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "config.toml mode {mode:o}");
    }

    let removed = h.json(&["profile", "remove", "b"], 0);
    assert_eq!(removed["removed"], "b");
    let list = h.json_lines(&["profile", "list"]);
    assert_eq!(list.len(), 1);
    // `--profile` and KSEF_PROFILE select a profile.
    let shown = h.json(&["--profile", "a", "profile", "show"], 0);
    assert_eq!(shown["name"], "a");
}

#[test]
fn bad_profiles_are_usage_errors_and_name_the_rule() {
    let h = Harness::start();
    let ctx = format!("Nip:{}", h.nip);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "profile", "add", "x", "-e", "nowhere", "-c", &ctx, "--secret", "prompt",
            ],
            "neither test, demo, prd nor a URL",
        ),
        (
            vec![
                "profile",
                "add",
                "x",
                "-e",
                "test",
                "-c",
                "Nip:1234567890",
                "--secret",
                "prompt",
            ],
            "context",
        ),
        (
            vec![
                "profile",
                "add",
                "x",
                "-e",
                "test",
                "-c",
                "5265877635",
                "--secret",
                "prompt",
            ],
            "TYPE:VALUE",
        ),
        (
            vec!["profile", "add", "x", "-e", "test", "-c", &ctx],
            "needs --secret",
        ),
        (
            vec![
                "profile",
                "add",
                "x",
                "-e",
                "test",
                "-c",
                &ctx,
                "--secret",
                "my-token-value",
            ],
            "env:NAME",
        ),
        (
            vec![
                "profile", "add", "../x", "-e", "test", "-c", &ctx, "--secret", "prompt",
            ],
            "profile name",
        ),
        (
            vec![
                "profile",
                "add",
                "x",
                "-e",
                "demo",
                "-c",
                &ctx,
                "--credential",
                "test-identity",
            ],
            "TEST and simulators",
        ),
        (
            vec![
                "profile",
                "add",
                "x",
                "-e",
                "test",
                "-c",
                &ctx,
                "--credential",
                "certificate",
            ],
            "--certificate",
        ),
        (vec!["profile", "use", "nope"], "no profile"),
        (vec!["auth", "login"], "no profile"),
    ];
    for (args, needle) in cases {
        let out = h.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
    }
    // --json turns the error into a JSON document on stderr.
    let out = h.run(&["--json", "profile", "use", "nope"]);
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "usage");
    assert_eq!(err["error"]["exitCode"], 2);
    // clap's own usage errors exit 2 as well.
    assert_eq!(h.run(&["profile", "add"]).status.code(), Some(2));
    assert_eq!(h.run(&["no-such-command"]).status.code(), Some(2));
}

#[test]
fn production_needs_an_explicit_profile_and_flag() {
    let h = Harness::start();
    let ctx = format!("Nip:{}", h.nip);
    let out = h.run(&[
        "profile", "add", "prd", "-e", "prd", "-c", &ctx, "--secret", "env:T",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--production"));
    // A URL of the production host is production too.
    let out = h.run(&[
        "profile",
        "add",
        "prd",
        "-e",
        "https://API.ksef.mf.gov.pl./v2",
        "-c",
        &ctx,
        "--secret",
        "env:T",
    ]);
    assert_eq!(out.status.code(), Some(2));

    let added = h.json(
        &[
            "--production",
            "profile",
            "add",
            "prd",
            "-e",
            "prd",
            "-c",
            &ctx,
            "--secret",
            "env:T",
        ],
        0,
    );
    assert_eq!(added["production"], true);
    // Without a terminal and without --production, nothing is sent: a usage error at once.
    let out = h.run_env(&["--profile", "prd", "auth", "login"], &[("T", "x")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PRODUCTION") && err.contains("--production"),
        "{err}"
    );
    // A generated test identity never goes to production.
    let out = h.run(&[
        "--production",
        "profile",
        "add",
        "p2",
        "-e",
        "prd",
        "-c",
        &ctx,
        "--credential",
        "test-identity",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
