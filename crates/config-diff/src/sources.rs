//! Finding and reading the configuration files of each side: a file, a
//! directory (every `.yaml`, `.yml` and `.json` below it) or a glob (`*`
//! within a path segment, `**` across them), all inside the repository.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::Side;
use crate::glob::Pattern;
use crate::yaml::{self, Budget};

/// Refuses paths that leave the repository (`..`, absolute paths).
pub fn inside_root(spec: &str, what: &str) -> anyhow::Result<()> {
    let p = Path::new(spec);
    if p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir | Component::Prefix(_) | Component::RootDir)) {
        bail!("{what} {spec:?} leaves the repository; use a path relative to the repository root without '..'");
    }
    Ok(())
}

fn is_config(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&p, out)?;
        } else if ft.is_file() && is_config(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn rel(p: &Path, base: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).to_string_lossy().replace('\\', "/")
}

/// Reads every file of a side's specs.
pub fn load(root: &Path, specs: &[String], budget: Budget) -> anyhow::Result<Side> {
    let mut side = Side::default();
    for spec in specs {
        inside_root(spec, "source")?;
        let abs = root.join(spec);
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        if spec.contains(['*', '?']) {
            let literal: PathBuf =
                Path::new(spec).components().take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?'])).collect();
            let base = root.join(&literal);
            let mut all = Vec::new();
            walk(&base, &mut all).with_context(|| format!("cannot list {} for the source {spec:?}", base.display()))?;
            let pattern = Pattern::new(spec);
            for p in all {
                if pattern.matches(&rel(&p, root)) {
                    found.push((rel(&p, &base), p));
                }
            }
            if found.is_empty() {
                bail!("the source {spec:?} matches no .yaml, .yml or .json file; check the manifest");
            }
        } else if abs.is_dir() {
            let mut all = Vec::new();
            walk(&abs, &mut all).with_context(|| format!("cannot list {spec}"))?;
            if all.is_empty() {
                bail!("the source directory {spec:?} holds no .yaml, .yml or .json file");
            }
            found.extend(all.into_iter().map(|p| (rel(&p, &abs), p)));
        } else if abs.is_file() {
            let name = abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| spec.clone());
            found.push((name, abs.clone()));
        } else {
            bail!("the source {spec:?} does not exist; check the config manifest or --staging/--production");
        }
        for (name, path) in found {
            let shown = rel(&path, root);
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {shown} (it must be UTF-8 text)"))?;
            let docs = yaml::parse(&text, &shown, budget)?;
            if side.files.insert(name.clone(), (shown.clone(), docs)).is_some() {
                bail!("two sources give the file name {name:?} ({shown}); list each file once");
            }
        }
    }
    Ok(side)
}

/// When each side is one file under different names (`--staging a.yaml
/// --production b.yaml`), compares them with each other under one name.
pub fn pair_single_files(staging: Side, mut production: Side) -> (Side, Side) {
    if let (Some(s), Some(p)) = (staging.files.keys().next().cloned(), production.files.keys().next().cloned())
        && staging.files.len() == 1
        && production.files.len() == 1
        && s != p
        && let Some(v) = production.files.remove(&p)
    {
        production.files.insert(s, v);
    }
    (staging, production)
}
