//! CLI cases as data: `tests/cmd/*.toml`, each with its fixture folder
//! `*.in/`, asserting exit code, stdout and stderr. Refresh expectations
//! with `TRYCMD=overwrite cargo test -p freeze-check --test integration cli::`.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin("freeze-check", std::path::Path::new(env!("CARGO_BIN_EXE_freeze-check")))
        .case("tests/cmd/*.toml");
}
