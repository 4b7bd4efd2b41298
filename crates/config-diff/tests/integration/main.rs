//! config-diff's integration tests, one test binary (house style: one per crate,
//! so the workspace links each crate's dependencies once). One module per
//! concern; run one with `cargo test -p config-diff --test integration <module>::`.

mod cli;
mod hostile;
mod signed;
