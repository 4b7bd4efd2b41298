//! smoke-gate's integration tests, one test binary (house style: one per crate,
//! so the workspace links each crate's dependencies once). One module per
//! concern; run one with `cargo test -p smoke-gate --test integration <module>::`.

mod artifact;
mod gate;
mod junit;
mod prometheus;
mod real_tools;
