//! Every parser the gates expose to repository content, fed hostile input:
//! a mutation harness over the bundled example's real files (byte flips,
//! truncation, deep nesting, huge numbers and strings, invalid UTF-8, BOMs,
//! NULs, alias and entity bombs) and proptest's arbitrary bytes.
//!
//! Each input runs on a worker thread with a time limit; a panic, a hang
//! (the limit passed) or a refusal that does not name its file fails the
//! test. The process's peak memory is read at the end. The budget is fixed
//! for CI (`RELEASE_GATE_FUZZ_MUTATIONS` per seed, default 60) and the
//! figures are printed: `cargo test -p release-gate --test integration fuzz:: -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

/// What a parser said of an input.
enum Outcome {
    Accepted,
    /// Refused with this message.
    Refused(String),
}

/// A parser as the gates call it, on bytes named `shown`.
type Parse = fn(&[u8], &str) -> Outcome;

/// Files by their shown name.
type Seeds = Vec<(String, Vec<u8>)>;

/// Text as the gates read it: bytes that are not UTF-8 are refused with their file and line.
fn text<'a>(bytes: &'a [u8], shown: &str) -> Result<&'a str, Outcome> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        Outcome::Refused(format!("{shown}:{line}: not UTF-8"))
    })
}

fn refused<E: std::fmt::Display>(r: Result<impl Sized, E>) -> Outcome {
    match r {
        Ok(_) => Outcome::Accepted,
        Err(e) => Outcome::Refused(format!("{e:#}")),
    }
}

fn policy<S: release_gate_core::policy::GateSection>(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(release_gate_core::policy::from_text::<S>(Some(t), Path::new(shown))),
        Err(o) => o,
    }
}

fn yaml_model(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(config_diff::yaml::parse(t, shown, config_diff::yaml::Budget::default())),
        Err(o) => o,
    }
}

fn config_manifest(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(release_gate_core::policy::parse_yaml::<config_diff::Manifest>(t, Path::new(shown))),
        Err(o) => o,
    }
}

fn exception(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(release_gate_core::policy::parse_yaml::<config_diff::exceptions::Exception>(t, Path::new(shown))),
        Err(o) => o,
    }
}

fn artifact_manifest(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(artifact_verify::manifest::Manifest::parse(t, Path::new(shown))),
        Err(o) => o,
    }
}

fn junit(bytes: &[u8], shown: &str) -> Outcome {
    let mut r = smoke_gate::junit::Results::default();
    refused(smoke_gate::junit::parse(smoke_gate::junit::pipe(std::io::Cursor::new(bytes.to_vec())), shown, &mut r))
}

fn metrics(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(smoke_gate::metrics::parse(t, shown)),
        Err(o) => o,
    }
}

fn ics(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(freeze_check::ics::parse(t, Path::new(shown), &jiff::tz::TimeZone::UTC)),
        Err(o) => o,
    }
}

fn roster(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(freeze_check::oncall::parse(t, Path::new(shown))),
        Err(o) => o,
    }
}

fn allowed_signers(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(release_gate_core::signing::AllowedSigners::parse(t, shown)),
        Err(o) => o,
    }
}

/// The SHA-256 the example's artifact manifests record for the artifact an
/// SBOM or provenance file (named relative to `releases/`) describes; for
/// any other name, a digest nothing describes.
fn described_digest(shown: &str) -> String {
    static DIGESTS: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
    let digests = DIGESTS.get_or_init(|| {
        let mut out = BTreeMap::new();
        for (name, bytes) in files(&example().join("releases"), &["artifacts.yaml"]) {
            let m = artifact_verify::manifest::Manifest::parse(std::str::from_utf8(&bytes).unwrap(), Path::new(&name)).unwrap();
            for a in m.artifacts {
                for evidence in [a.sbom, a.provenance].into_iter().flatten() {
                    let rel = evidence.to_string().trim_start_matches("releases/").to_owned();
                    out.insert(rel, a.sha256.clone());
                }
            }
        }
        out
    });
    digests.get(shown).cloned().unwrap_or_else(|| "0".repeat(64))
}

/// SBOMs are evidence: a bad one is a failed check that the caller names by
/// artifact, so the message need not name the file.
fn sbom(bytes: &[u8], shown: &str) -> Outcome {
    refused(artifact_verify::sbom::check(bytes, &described_digest(shown)))
}

fn provenance(bytes: &[u8], shown: &str) -> Outcome {
    let req = artifact_verify::provenance::Requirements { builders: vec!["*".into()], source_repository: None, allow_unsigned: true };
    static KEYS: std::sync::OnceLock<Vec<artifact_verify::keys::NamedKey>> = std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        files(&example().join(".github/keys"), &[".pub"])
            .into_iter()
            .map(|(name, pem)| artifact_verify::keys::NamedKey {
                key: artifact_verify::keys::PublicKey::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap(),
                name,
            })
            .collect()
    });
    refused(artifact_verify::provenance::check(bytes, &described_digest(shown), &req, keys, None))
}

fn incidents(bytes: &[u8], shown: &str) -> Outcome {
    match text(bytes, shown) {
        Ok(t) => refused(release_guard::incidents::from_file(
            t,
            shown,
            &release_guard::policy::Incidents::default(),
            jiff::Timestamp::UNIX_EPOCH,
        )),
        Err(o) => o,
    }
}

/// The decision log: its regions, gate entries, hash block, and a render on top of it.
fn decision_log(bytes: &[u8], shown: &str) -> Outcome {
    let t = match text(bytes, shown) {
        Ok(t) => t,
        Err(o) => return o,
    };
    let _ = decision_log_commit::log::regions(t);
    let _ = decision_log_commit::log::entries(t);
    let policy = decision_log_commit::LogPolicy::default();
    let (files, links, runs) = (BTreeMap::new(), BTreeMap::new(), release_gate_core::evidence::CheckRuns::default());
    let ctx = decision_log_commit::RenderCtx {
        release: "2.4.0",
        log: shown,
        commit: None,
        online: false,
        files: decision_log_commit::evidence::Files::Fetched(&files),
        links: &links,
        check_runs: &runs,
        recording: Some(decision_log_commit::Recording { by: "fuzz".into(), via: "fuzz".into() }),
        now: jiff::Timestamp::UNIX_EPOCH,
        run_url: None,
        policy: &policy,
        fallback: BTreeMap::new(),
    };
    // A lifecycle record that cannot be trusted is refused, naming its line.
    if let Err(e) = decision_log_commit::render(Some(t), &BTreeMap::new(), &ctx, &decision_log_commit::Hand::default()) {
        return Outcome::Refused(e.to_string());
    }
    match release_gate_core::hashes::parse(t) {
        Ok(_) => Outcome::Accepted,
        Err((line, m)) => Outcome::Refused(format!("{shown}:{line}: {m}")),
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tradepulse")
}

fn files(dir: &Path, suffixes: &[&str]) -> Seeds {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if suffixes.iter().any(|s| p.to_string_lossy().ends_with(s)) {
                out.push((p.strip_prefix(dir).unwrap_or(&p).display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Parsers, their seeds (the example's real files and a few bombs), and
/// whether a refusal must name the file (refusals that are exit 2).
fn targets() -> Vec<(&'static str, Parse, Seeds, bool)> {
    let ex = example();
    let laughs = b"a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n".to_vec();
    let xml_bomb = b"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\n<testsuite name=\"&lol2;\"><testcase name=\"a\"/></testsuite>\n".to_vec();
    let with = |mut seeds: Seeds, extra: Vec<(&str, Vec<u8>)>| {
        seeds.extend(extra.into_iter().map(|(n, b)| (n.to_owned(), b)));
        seeds
    };
    let junit_fixtures = files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../smoke-gate/tests/fixtures/junit"), &[".xml"]);
    vec![
        (
            "policy (freeze-check)",
            policy::<freeze_check::policy::FreezePolicy> as Parse,
            with(files(&ex, &["release-gate.yml"]), vec![("laughs.yml", laughs.clone())]),
            true,
        ),
        ("policy (config-diff)", policy::<config_diff::ConfigDiffPolicy>, files(&ex, &["release-gate.yml"]), true),
        ("policy (artifact-verify)", policy::<artifact_verify::ArtifactPolicy>, files(&ex, &["release-gate.yml"]), true),
        ("policy (smoke-gate)", policy::<smoke_gate::SmokePolicy>, files(&ex, &["release-gate.yml"]), true),
        ("policy (decision-log-commit)", policy::<decision_log_commit::LogPolicy>, files(&ex, &["release-gate.yml"]), true),
        (
            "YAML/JSON config model",
            yaml_model,
            with(files(&ex.join("configs"), &[".yaml", ".json"]), vec![("laughs.yaml", laughs.clone())]),
            true,
        ),
        ("config manifest", config_manifest, files(&ex.join("configs/releases"), &[".yaml"]), true),
        ("signed exception", exception, files(&ex.join("configs/exceptions"), &[".yaml"]), true),
        ("artifact manifest", artifact_manifest, files(&ex.join("releases"), &["artifacts.yaml"]), true),
        (
            "JUnit XML",
            junit,
            with(with(files(&ex.join("reports"), &[".xml"]), vec![("bomb.xml", xml_bomb)]), Vec::new())
                .into_iter()
                .chain(junit_fixtures)
                .collect(),
            true,
        ),
        (
            "metrics JSON/CSV",
            metrics,
            with(files(&ex.join("reports/canary"), &[".json"]), vec![("m.csv", b"timestamp,a,b\n1,2,3\n2,3,4\n".to_vec())]),
            true,
        ),
        ("ICS calendar", ics, files(&ex.join(".github"), &[".ics"]), true),
        ("on-call roster", roster, files(&ex.join(".github"), &["oncall.yml"]), true),
        ("allowed signers", allowed_signers, files(&ex.join(".github"), &["allowed_signers"]), true),
        ("SBOM JSON", sbom, files(&ex.join("releases"), &[".cdx.json", ".spdx.json"]), false),
        ("provenance JSON", provenance, files(&ex.join("releases"), &[".intoto.json"]), false),
        ("decision log Markdown", decision_log, files(&ex.join("reports/release-decisions"), &[".md"]), true),
        ("incidents JSON", incidents, files(&ex.join("reports/incidents"), &[".json"]), true),
    ]
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// One mutation of `seed`.
fn mutate(seed: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    let at = |r: &mut Rng, b: &[u8]| r.below(b.len() + 1);
    match r.below(12) {
        0 => {
            for _ in 0..=r.below(8) {
                if !b.is_empty() {
                    let i = r.below(b.len());
                    b[i] ^= 1 << r.below(8);
                }
            }
        }
        1 => b.truncate(at(r, &b)),
        2 => {
            let i = at(r, &b);
            let junk: &[u8] =
                [&b"\0"[..], b"\xff", b"\xef\xbb\xbf", b"\xc3", b"\r", b"\t", b"&", b"<", b"]]>", b"*", b"!!binary "][r.below(11)];
            b.splice(i..i, junk.iter().copied());
        }
        3 => {
            // Deep nesting of the file's own kind.
            let i = at(r, &b);
            let open: &[u8] = [&b"["[..], b"{a: ", b"- ", b"<t>", b"{\"a\":"][r.below(5)];
            let deep: Vec<u8> = open.iter().copied().cycle().take(open.len() * 20_000).collect();
            b.splice(i..i, deep);
        }
        4 => {
            let i = at(r, &b);
            b.splice(i..i, std::iter::repeat_n(b'9', 5_000 + r.below(100_000)));
        }
        5 => {
            let i = at(r, &b);
            b.splice(i..i, std::iter::repeat_n(b'x', 10_000 + r.below(1_000_000)));
        }
        6 => b.splice(0..0, b"\xef\xbb\xbf".iter().copied()).for_each(drop),
        7 => {
            // A slice of the file repeated: long values, many entries.
            if !b.is_empty() {
                let s = r.below(b.len());
                let e = (s + 1 + r.below(200)).min(b.len());
                let piece = b[s..e].to_vec();
                let times = 1 + r.below(500);
                b.splice(s..s, piece.iter().copied().cycle().take(piece.len() * times));
            }
        }
        8 => {
            let i = at(r, &b);
            let n = r.below(64);
            let noise: Vec<u8> = (0..n).map(|_| r.below(256) as u8).collect();
            b.splice(i..i, noise);
        }
        9 => {
            if b.len() > 2 {
                let s = r.below(b.len());
                let e = (s + r.below(64)).min(b.len());
                b.drain(s..e);
            }
        }
        10 => b = b.iter().flat_map(|&c| if c == b'\n' { vec![b'\r', b'\n'] } else { vec![c] }).collect(),
        _ => b.extend_from_slice(b"\n&anchor [*anchor]\n<!ENTITY x \"y\">\n"),
    }
    b
}

/// Runs one input on a worker thread; a panic or a hang is an error naming the input.
fn one(parse: Parse, input: Vec<u8>, shown: &str, limit: Duration) -> Result<Outcome, String> {
    let (tx, rx) = mpsc::channel();
    let name = shown.to_owned();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&input, &name)));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(o)) => Ok(o),
        Ok(Err(p)) => Err(format!(
            "panicked: {}",
            p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned())).unwrap_or_default()
        )),
        Err(_) => Err(format!("hung: no answer within {limit:?}")),
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[test]
fn every_parser_survives_hostile_input_and_names_the_file_it_refuses() {
    let per_seed: usize = std::env::var("RELEASE_GATE_FUZZ_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    // Debug builds are slow; the limit is for hangs, not speed.
    let limit = Duration::from_secs(20);
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let started = Instant::now();
    let only = std::env::var("RELEASE_GATE_FUZZ_ONLY").ok();
    for (name, parse, seeds, names_file) in targets() {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        assert!(!seeds.is_empty(), "{name}: no seed files");
        let (mut tried, mut refusals, mut slowest) = (0usize, 0usize, Duration::ZERO);
        let mut rng = Rng(0x5eed_1234_abcd_ef01 ^ name.len() as u64);
        for (shown, seed) in &seeds {
            for i in 0..=per_seed {
                let input = if i == 0 { seed.clone() } else { mutate(seed, &mut rng) };
                let t = Instant::now();
                tried += 1;
                match one(parse, input.clone(), shown, limit) {
                    Ok(Outcome::Accepted) => {}
                    Ok(Outcome::Refused(m)) => {
                        refusals += 1;
                        if names_file && !m.contains(shown.as_str()) {
                            problems.push(format!("{name}: a refusal of {shown} does not name the file: {m}"));
                        }
                    }
                    Err(e) => {
                        let saved =
                            std::env::temp_dir().join(format!("release-gate-fuzz-{}-{i}.bin", name.replace([' ', '/', '(', ')'], "_")));
                        let _ = std::fs::write(&saved, &input);
                        problems.push(format!("{name}: {shown} mutation {i} {e} (input saved to {})", saved.display()));
                    }
                }
                slowest = slowest.max(t.elapsed());
            }
        }
        rows.push(format!("| {name} | {} | {tried} | {refusals} | {:.0} ms |", seeds.len(), slowest.as_secs_f64() * 1000.0));
    }
    let peak = peak_rss_mib();
    println!("\n| parser | seed files | inputs | refused | slowest |\n| --- | --- | --- | --- | --- |\n{}", rows.join("\n"));
    println!("\n0 panics and 0 hangs required; peak memory of the whole run {peak:.0} MiB; {:.1} s", started.elapsed().as_secs_f64());
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
    assert!(peak < 1024.0, "peak memory {peak:.0} MiB");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    /// Arbitrary bytes, to every parser: an answer, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for (name, parse, _, _) in targets() {
            let outcome = std::panic::catch_unwind(|| parse(&bytes, "input"));
            prop_assert!(outcome.is_ok(), "{} panicked on {:?}", name, bytes);
        }
    }
}
