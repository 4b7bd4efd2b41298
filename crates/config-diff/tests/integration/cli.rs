//! CLI cases as data: `tests/cmd/*.toml` with fixture folders `*.in/`.
//! Refresh with `TRYCMD=overwrite cargo test -p config-diff --test integration cli::`.

#[test]
fn cli_cases() {
    trycmd::TestCases::new().register_bin("config-diff", std::path::Path::new(env!("CARGO_BIN_EXE_config-diff"))).case("tests/cmd/*.toml");
}
