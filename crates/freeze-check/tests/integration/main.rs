//! freeze-check's integration tests, one test binary (house style: one per crate,
//! so the workspace links each crate's dependencies once). One module per
//! concern; run one with `cargo test -p freeze-check --test integration <module>::`.

mod cli;
mod github;
