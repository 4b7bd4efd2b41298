//! github-fake's integration tests, one test binary (house style: one per crate,
//! so the workspace links each crate's dependencies once). One module per
//! concern; run one with `cargo test -p github-fake --test integration <module>::`.

mod fake;
mod pagerduty;
