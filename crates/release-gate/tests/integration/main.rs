//! release-gate's integration tests, one test binary (house style: one per crate,
//! so the workspace links each crate's dependencies once). One module per
//! concern; run one with `cargo test -p release-gate --test integration <module>::`.

mod common;
mod deploy;
mod fuzz;
mod help;
mod init;
mod links;
mod paths;
mod publish;
mod run;
mod schema;
mod serve;
