//! artifact-verify's integration tests, one test binary (house style: one per crate,
//! so the workspace links each crate's dependencies once). One module per
//! concern; run one with `cargo test -p artifact-verify --test integration <module>::`.

mod common;
mod local;
mod s3;
