//! The release's lifecycle, one typed state recorded in the decision log:
//!
//! ```text
//! NO-GO ⇄ GO → deployed → watching → paused | rolled-back | succeeded
//!                            ↑          │          │
//!                            └─ resume ─┘          └─ resume → GO (may deploy again)
//! ```
//!
//! (A success a late finding overturns moves on to paused or rolled back.)
//!
//! Each transition says who made it, through what (the gate and its
//! workflow run), when, for which commit and why. decision-log-commit
//! moves NO-GO ⇄ GO before the deploy; deploy-check records the deploy
//! instant, **once**; release-guard moves the deployed release; `release-guard
//! resume` leaves a pause (back to watching) or a rollback (back to GO).
//! A paused or rolled-back release may not deploy ([`Lifecycle::may_deploy`]).
//!
//! The log holds it in one generated region (`lifecycle`): a table for
//! people and a hidden data line that is the record. A record that does not
//! read, names another release, or holds a transition the machine above
//! does not allow (a hand edit) is an error, never "no state"; the guard's
//! check run mirrors the state, so online a hand edit of the log cannot
//! undo a pause on its own.

use serde::{Deserialize, Serialize};

use super::{data_line, data_lines, region, replace_region};

/// Where the lifecycle is in a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// decision-log-commit: the go/no-go says NO-GO.
    NoGo,
    /// decision-log-commit: the go/no-go says GO (or a rollback was resumed).
    Go,
    /// deploy-check let the production deploy start.
    Deployed,
    /// release-guard watches the guard period.
    Watching,
    /// release-guard paused the pipeline (an incident).
    Paused,
    /// release-guard rolled the release back (a §6 trigger).
    RolledBack,
    /// release-guard recorded the success verdict (§5).
    Succeeded,
}

impl State {
    /// As the log shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::NoGo => "NO-GO",
            State::Go => "GO",
            State::Deployed => "deployed",
            State::Watching => "watching",
            State::Paused => "paused",
            State::RolledBack => "rolled back",
            State::Succeeded => "succeeded",
        }
    }

    /// Whether `next` may follow this state (`None`: nothing recorded yet).
    pub fn allows(prev: Option<State>, next: State) -> bool {
        use State::*;
        matches!(
            (prev, next),
            (None | Some(NoGo | Go), NoGo | Go)
                | (Some(Go), Deployed)
                | (Some(Deployed), Watching | Paused | RolledBack | Succeeded)
                | (Some(Watching), Paused | RolledBack | Succeeded)
                | (Some(Paused), Watching | RolledBack)
                | (Some(RolledBack), Go)
                // A finding after the verdict (an incident reported late that
                // touched the guard) overturns it.
                | (Some(Succeeded), Paused | RolledBack)
        )
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One move of the lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The state entered.
    pub to: State,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Who: the GitHub actor, or `local` for a run on a workstation.
    pub by: String,
    /// Through what: the gate, and its workflow run's link when there is one.
    pub via: String,
    /// The commit it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Why, in one line.
    pub why: String,
}

impl Transition {
    /// Its instant (every recorded one reads: [`Lifecycle::read`] checks).
    pub fn instant(&self) -> jiff::Timestamp {
        self.at.parse().unwrap_or(jiff::Timestamp::MIN)
    }
}

/// A lifecycle record that cannot be trusted as written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LifecycleError {
    /// The data line does not read.
    #[error(
        "{log}:{line}: the release lifecycle record does not read ({why}); restore it from the log's history (it is written by release-gate, not by hand)"
    )]
    Data {
        /// The log, as shown.
        log: String,
        /// Its line.
        line: u64,
        /// What JSON said.
        why: String,
    },
    /// Two records.
    #[error("{log}:{line}: a second release lifecycle record; keep the one release-gate wrote")]
    Twice {
        /// The log.
        log: String,
        /// The second one's line.
        line: u64,
    },
    /// Another release's record.
    #[error("{log}:{line}: the lifecycle record is release {found}'s, not {release}'s")]
    OtherRelease {
        /// The log.
        log: String,
        /// Its line.
        line: u64,
        /// Whose.
        found: String,
        /// This one.
        release: String,
    },
    /// A transition the lifecycle does not allow, or out of time order.
    #[error(
        "{log}:{line}: the lifecycle record goes {from} → {to} at transition {n}, which {why}; it was edited by hand: restore it from the log's history"
    )]
    Order {
        /// The log.
        log: String,
        /// Its line.
        line: u64,
        /// 1-based transition.
        n: usize,
        /// State before (`nothing`).
        from: String,
        /// State after.
        to: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A move this release cannot make now.
    #[error("release {release} is {from}: it cannot become {to} ({why})")]
    NotAllowed {
        /// The release.
        release: String,
        /// Its state.
        from: String,
        /// Wanted.
        to: String,
        /// Why not.
        why: String,
    },
}

/// The record as written in the data line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    release: String,
    transitions: Vec<Transition>,
}

/// The release's lifecycle: every transition, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// The release.
    pub release: String,
    /// Its transitions.
    pub transitions: Vec<Transition>,
}

const KIND: &str = "lifecycle";
/// The region holding the table and the record.
pub const REGION: &str = "lifecycle";
/// The region of the one-line state in the log's fields.
pub const STATE_REGION: &str = "lifecycle-state";

/// What a resume's `via` starts with: only `release-guard resume` leaves a
/// pause or a rollback.
pub const RESUME_VIA: &str = "release-guard resume";

/// How a stop for a breach is recorded (the guard's trigger, in the
/// transition's `why`): such a release never resumes.
pub const BREACH_MARK: &str = "security or compliance";

/// Whether `prev → next` leaves a pause or a rollback (a resume: only
/// `release-guard resume` makes it).
pub fn is_resume(prev: Option<State>, next: State) -> bool {
    matches!((prev, next), (Some(State::Paused), State::Watching) | (Some(State::RolledBack), State::Go))
}

impl Lifecycle {
    /// Nothing recorded yet.
    pub fn new(release: &str) -> Self {
        Self { release: release.to_owned(), transitions: Vec::new() }
    }

    /// The lifecycle recorded in a decision log (`shown` names it in
    /// errors); none recorded is an empty one.
    pub fn read(doc: &str, release: &str, shown: &str) -> Result<Self, LifecycleError> {
        let found = data_lines(doc, KIND);
        if let Some((_, line)) = found.get(1) {
            return Err(LifecycleError::Twice { log: shown.to_owned(), line: *line });
        }
        let Some((json, line)) = found.first().copied() else { return Ok(Self::new(release)) };
        let record: Record =
            serde_json::from_str(json).map_err(|e| LifecycleError::Data { log: shown.to_owned(), line, why: e.to_string() })?;
        if record.release != release {
            return Err(LifecycleError::OtherRelease { log: shown.to_owned(), line, found: record.release, release: release.to_owned() });
        }
        let mut prev: Option<&Transition> = None;
        for (i, t) in record.transitions.iter().enumerate() {
            let order = |why: &'static str| LifecycleError::Order {
                log: shown.to_owned(),
                line,
                n: i + 1,
                from: prev.map_or_else(|| "nothing".to_owned(), |p| p.to.to_string()),
                to: t.to.to_string(),
                why,
            };
            let Ok(at) = t.at.parse::<jiff::Timestamp>() else { return Err(order("has no readable time")) };
            if !State::allows(prev.map(|p| p.to), t.to) {
                return Err(order("the lifecycle does not allow"));
            }
            if is_resume(prev.map(|p| p.to), t.to) {
                if !t.via.starts_with(RESUME_VIA) {
                    return Err(order("only `release-guard resume` records, and this one it did not"));
                }
                if prev.is_some_and(|p| p.why.contains(BREACH_MARK)) {
                    return Err(order(
                        "resumes a release stopped for a security or compliance breach, which never resumes (a new release carries the fix)",
                    ));
                }
            }
            if prev.is_some_and(|p| p.instant() > at) {
                return Err(order("goes back in time"));
            }
            prev = Some(t);
        }
        Ok(Self { release: record.release, transitions: record.transitions })
    }

    /// The resumes recorded: the transitions that left a pause or a rollback.
    pub fn resumes(&self) -> impl Iterator<Item = &Transition> {
        self.transitions.windows(2).filter(|w| is_resume(Some(w[0].to), w[1].to)).map(|w| &w[1])
    }

    /// Whether every resume recorded was made by someone `approvers` names:
    /// directly, or (a team named) through a workflow run, where `resume`
    /// checked the membership (offline it accepts only logins named
    /// directly). `Err` names the first that was not.
    pub fn resumes_by(&self, approvers: &[String]) -> Result<(), String> {
        let teams = approvers.iter().any(|a| a.starts_with('@'));
        for r in self.resumes() {
            let direct = approvers.iter().any(|a| !a.starts_with('@') && a.eq_ignore_ascii_case(&r.by));
            let in_a_run = teams && r.via.starts_with(&format!("{RESUME_VIA} in http"));
            if !direct && !in_a_run {
                return Err(format!(
                    "the resume recorded at {} is by {}, whom release-guard.resume.approvers does not name{}: the record was edited by hand",
                    r.at,
                    r.by,
                    if approvers.is_empty() { " (it names nobody)" } else { "" }
                ));
            }
        }
        Ok(())
    }

    /// Whether this record extends `earlier` (an older version of the same
    /// log): the record is append-only, so every transition `earlier`
    /// holds must still be here, in place and unchanged. `Err` says what
    /// went missing or changed.
    pub fn extends(&self, earlier: &Lifecycle) -> Result<(), String> {
        for (n, old) in earlier.transitions.iter().enumerate() {
            match self.transitions.get(n) {
                Some(now) if now == old => {}
                Some(now) => {
                    return Err(format!(
                        "transition {} was {} at {} ({}) and now reads {} at {}",
                        n + 1,
                        old.to,
                        old.at,
                        old.by,
                        now.to,
                        now.at
                    ));
                }
                None => return Err(format!("transition {} ({} at {}, by {}) is gone", n + 1, old.to, old.at, old.by)),
            }
        }
        Ok(())
    }

    /// The state now (`None`: nothing recorded).
    pub fn state(&self) -> Option<State> {
        self.transitions.last().map(|t| t.to)
    }

    /// The latest transition.
    pub fn last(&self) -> Option<&Transition> {
        self.transitions.last()
    }

    /// The deploy the release is in now: the latest `deployed` transition,
    /// unless a resumed rollback came after it (then it is no longer deployed).
    pub fn deployed(&self) -> Option<&Transition> {
        let i = self.transitions.iter().rposition(|t| t.to == State::Deployed)?;
        let undone = self.transitions[i..].iter().any(|t| t.to == State::Go);
        (!undone).then(|| &self.transitions[i])
    }

    /// The GO the current deploy (or the next one) rests on: the latest GO
    /// before the current deploy, else the latest GO.
    pub fn go(&self) -> Option<&Transition> {
        let until = self.transitions.iter().rposition(|t| t.to == State::Deployed).filter(|_| self.deployed().is_some());
        let upto = until.unwrap_or(self.transitions.len());
        self.transitions[..upto].iter().rev().find(|t| t.to == State::Go)
    }

    /// Whether a production deploy may start now, and why not.
    pub fn may_deploy(&self) -> Result<(), String> {
        match self.last() {
            Some(t) if t.to == State::Paused => Err(format!(
                "the post-release guard paused release {} at {} ({}); it may deploy again once `release-guard resume` records a resume",
                self.release, t.at, t.why
            )),
            Some(t) if t.to == State::RolledBack => Err(format!(
                "the post-release guard rolled release {} back at {} ({}); it may deploy again once `release-guard resume` records a resume",
                self.release, t.at, t.why
            )),
            _ => Ok(()),
        }
    }

    /// Records a transition; `false` when it changes nothing (the same
    /// state, for the same commit). A move the lifecycle does not allow is
    /// an error naming the state.
    pub fn record(&mut self, t: Transition) -> Result<bool, LifecycleError> {
        if let Some(last) = self.last()
            && last.to == t.to
            && (last.commit == t.commit || t.commit.is_none())
        {
            return Ok(false);
        }
        if !State::allows(self.state(), t.to) {
            return Err(LifecycleError::NotAllowed {
                release: self.release.clone(),
                from: self.state().map_or_else(|| "not evaluated yet".to_owned(), |s| s.to_string()),
                to: t.to.to_string(),
                why: "the lifecycle does not allow it".into(),
            });
        }
        if let Some(last) = self.last()
            && last.instant() > t.instant()
        {
            return Err(LifecycleError::NotAllowed {
                release: self.release.clone(),
                from: last.to.to_string(),
                to: t.to.to_string(),
                why: format!("{} is earlier than the last transition, at {}", t.at, last.at),
            });
        }
        self.transitions.push(t);
        Ok(true)
    }

    /// The one line the log's fields show.
    pub fn headline(&self) -> String {
        match self.last() {
            None => "_not evaluated yet_".to_owned(),
            Some(t) => format!("**{}** since {} ({}, {})", t.to.as_str().to_uppercase(), t.at, t.by, t.why),
        }
    }

    /// The §8 "Release date/time (UTC)" field: the deploy, as recorded once.
    pub fn deploy_time(&self) -> String {
        match self.deployed() {
            Some(d) => format!("{} (deployed; recorded by {}, {})", d.instant().strftime("%Y-%m-%d %H:%M UTC"), d.by, d.via),
            None => "_not deployed yet_".to_owned(),
        }
    }

    /// The region's body: the table and the record.
    pub fn body(&self) -> String {
        let mut t = crate::render::Table::new(&["#", "state", "at (UTC)", "by", "via", "commit", "why"]);
        for (n, tr) in self.transitions.iter().enumerate() {
            t.row([
                (n + 1).to_string(),
                tr.to.as_str().to_owned(),
                tr.at.clone(),
                tr.by.clone(),
                tr.via.clone(),
                tr.commit.as_deref().map(|c| crate::render::code(c.get(..12).unwrap_or(c))).unwrap_or_else(|| "—".into()),
                tr.why.clone(),
            ]);
        }
        let record = Record { release: self.release.clone(), transitions: self.transitions.clone() };
        let table = if self.transitions.is_empty() { "_no transition recorded yet_\n".to_owned() } else { t.finish() };
        format!("{table}\n{}", data_line(KIND, &serde_json::to_string(&record).unwrap_or_default()))
    }

    /// `doc` with the lifecycle written in: its regions replaced, or added
    /// (the field after the go/no-go, the section before the checklist).
    pub fn write(&self, doc: &str) -> String {
        let mut doc = doc.to_owned();
        let headline = self.headline();
        doc = match replace_region(&doc, STATE_REGION, &headline) {
            Some(d) => d,
            None => {
                let line = format!("\n- **Release lifecycle:** {}", region(STATE_REGION, &headline));
                let end = "<!-- release-gate:end go-no-go -->";
                match doc.find(end) {
                    Some(i) => {
                        let at = i + end.len();
                        format!("{}{line}{}", &doc[..at], &doc[at..])
                    }
                    None => format!("{}{line}\n", doc.trim_end()),
                }
            }
        };
        // The §8 date/time field is the deploy's, where the log has one.
        doc = replace_region(&doc, "datetime", &self.deploy_time()).unwrap_or(doc);
        let body = self.body();
        match replace_region(&doc, REGION, &body) {
            Some(d) => d,
            None => {
                let section = format!("## Release lifecycle\n\n{}\n\n", region(REGION, &body));
                match doc.find("## Readiness checklist") {
                    Some(i) => format!("{}{section}{}", &doc[..i], &doc[i..]),
                    None => format!("{}\n\n{section}", doc.trim_end()),
                }
            }
        }
    }
}

/// Whether the lifecycle in the log at `rel` (under `root`, as `current`
/// reads now, committed or not) extends every version of it git has: the
/// record is append-only, so a pause, a rollback or any transition cut out
/// or rewritten by hand since a commit held it is found. Outside a git work
/// tree, or below its top, there is no history: `Ok` with nothing checked. Versions that do
/// not read as this release's record are passed over (each was checked
/// when it was the log in force). `Err` names the commit and what changed.
pub fn append_only(root: &std::path::Path, rel: &str, current: &Lifecycle) -> Result<(), String> {
    let git = |args: &[&str]| crate::git(root, args);
    // Only a checkout of its own, as for the commit evidence is bound to: a
    // directory inside another checkout (the bundled example) has no
    // history of its own.
    if !crate::own_checkout(root) {
        return Ok(());
    }
    // Every commit that touched it, merges included: history simplification
    // would hide a side branch that dropped a transition behind `merge -s ours`.
    let Some(list) = git(&["log", "--full-history", "--format=%H", "--", rel]) else { return Ok(()) };
    for commit in String::from_utf8_lossy(&list).lines().filter(|l| l.len() >= 40) {
        let Some(bytes) = git(&["show", &format!("{commit}:./{rel}")]) else { continue };
        let Ok(text) = String::from_utf8(bytes) else { continue };
        let Ok(earlier) = Lifecycle::read(&text, &current.release, rel) else { continue };
        if let Err(what) = current.extends(&earlier) {
            return Err(format!(
                "{rel}: the lifecycle record is append-only, but {what} since commit {}; it was edited by hand: restore it from that commit",
                commit.get(..12).unwrap_or(commit)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(to: State, at: &str) -> Transition {
        Transition { to, at: at.into(), by: "alice".into(), via: "test".into(), commit: Some("c1".into()), why: "because".into() }
    }

    #[test]
    fn the_lifecycle_moves_only_along_its_edges() {
        let mut lc = Lifecycle::new("2.4.1");
        assert!(lc.may_deploy().is_ok());
        assert!(lc.record(t(State::Deployed, "2026-12-01T13:30:00Z")).is_err(), "never deployed before a GO");
        assert!(lc.record(t(State::Go, "2026-12-01T13:00:00Z")).unwrap());
        assert!(!lc.record(t(State::Go, "2026-12-01T13:05:00Z")).unwrap(), "the same GO again changes nothing");
        assert!(lc.record(t(State::Deployed, "2026-12-01T13:30:00Z")).unwrap());
        assert_eq!(lc.deployed().map(|d| d.at.as_str()), Some("2026-12-01T13:30:00Z"));
        assert_eq!(lc.go().map(|d| d.at.as_str()), Some("2026-12-01T13:00:00Z"));
        assert!(lc.record(t(State::Go, "2026-12-01T13:40:00Z")).is_err(), "a deployed release is not re-decided");
        assert!(lc.record(t(State::Watching, "2026-12-01T13:35:00Z")).unwrap());
        assert!(lc.record(t(State::Paused, "2026-12-01T13:50:00Z")).unwrap());
        let refused = lc.may_deploy().unwrap_err();
        assert!(refused.contains("paused release 2.4.1") && refused.contains("release-guard resume"), "{refused}");
        assert!(lc.record(t(State::Succeeded, "2026-12-01T14:30:00Z")).is_err(), "no success straight out of a pause");
        assert!(lc.record(t(State::Watching, "2026-12-01T13:40:00Z")).is_err(), "no move back in time");
        assert!(lc.record(t(State::Watching, "2026-12-01T14:00:00Z")).unwrap(), "resumed");
        assert!(lc.may_deploy().is_ok());
        assert!(lc.record(t(State::RolledBack, "2026-12-01T14:10:00Z")).unwrap());
        assert!(lc.may_deploy().is_err());
        assert!(lc.record(t(State::Go, "2026-12-01T15:00:00Z")).unwrap(), "a resumed rollback may deploy again");
        assert!(lc.deployed().is_none(), "the rolled-back deploy is undone");
        assert_eq!(lc.go().map(|d| d.at.as_str()), Some("2026-12-01T15:00:00Z"));
    }

    #[test]
    fn only_release_guard_resume_leaves_a_pause_by_an_approver_and_the_record_only_grows() {
        let mut lc = Lifecycle::new("2.4.1");
        lc.record(t(State::Go, "2026-12-01T13:00:00Z")).unwrap();
        lc.record(t(State::Deployed, "2026-12-01T13:30:00Z")).unwrap();
        lc.record(t(State::Paused, "2026-12-01T13:50:00Z")).unwrap();
        let paused = lc.clone();
        let doc = |lc: &Lifecycle| lc.write("# Release 2.4.1 Decision Log\n");
        // A resume row written by hand (or by the guard's ordinary run) is not a resume.
        let mut fake = paused.clone();
        fake.record(Transition { via: "release-guard (local run)".into(), ..t(State::Watching, "2026-12-01T14:00:00Z") }).unwrap();
        let e = Lifecycle::read(&doc(&fake), "2.4.1", "log.md").unwrap_err().to_string();
        assert!(e.contains("paused → watching at transition 4") && e.contains("only `release-guard resume` records"), "{e}");
        // One that says it came from resume must be by an approver.
        let mut fake = paused.clone();
        fake.record(Transition {
            by: "mallory".into(),
            via: format!("{RESUME_VIA} (local run)"),
            ..t(State::Watching, "2026-12-01T14:00:00Z")
        })
        .unwrap();
        let read = Lifecycle::read(&doc(&fake), "2.4.1", "log.md").unwrap();
        let e = read.resumes_by(&["dan".into(), "@acme/sre".into()]).unwrap_err();
        assert!(e.contains("by mallory, whom release-guard.resume.approvers does not name"), "{e}");
        assert!(read.resumes_by(&[]).unwrap_err().contains("it names nobody"));
        assert!(read.resumes_by(&["Mallory".into()]).is_ok(), "named directly");
        // A team member resumes only through a workflow run (where membership was checked).
        let mut team = paused.clone();
        team.record(Transition {
            by: "erin".into(),
            via: format!("{RESUME_VIA} in https://github.com/o/r/actions/runs/9"),
            ..t(State::Watching, "2026-12-01T14:00:00Z")
        })
        .unwrap();
        assert!(team.resumes_by(&["@acme/sre".into()]).is_ok());
        assert!(team.resumes_by(&["dan".into()]).is_err());
        // The record only grows: a pause cut out, or rewritten, is found against an older version.
        let mut cut = paused.clone();
        cut.transitions.pop();
        let e = cut.extends(&paused).unwrap_err();
        assert!(e.contains("transition 3 (paused at 2026-12-01T13:50:00Z, by alice) is gone"), "{e}");
        let mut swapped = paused.clone();
        swapped.transitions.swap(0, 1);
        assert!(swapped.extends(&paused).is_err());
        let mut rewritten = paused.clone();
        rewritten.transitions[2].why = "nothing happened".into();
        assert!(rewritten.extends(&paused).is_err());
        assert!(paused.extends(&cut).is_ok() && paused.extends(&Lifecycle::new("2.4.1")).is_ok(), "appending is fine");
    }

    #[test]
    fn the_record_round_trips_and_a_hand_edit_is_refused() {
        let mut lc = Lifecycle::new("2.4.1");
        lc.record(t(State::Go, "2026-12-01T13:00:00Z")).unwrap();
        lc.record(t(State::Deployed, "2026-12-01T13:30:00Z")).unwrap();
        lc.record(t(State::Paused, "2026-12-01T13:50:00Z")).unwrap();
        let doc = lc.write("# Release 2.4.1 Decision Log\n\n- **Go/No-Go Decision:** <!-- release-gate:begin go-no-go -->\n**GO**\n<!-- release-gate:end go-no-go -->\n\n## Readiness checklist\n");
        assert!(doc.contains("- **Release lifecycle:** <!-- release-gate:begin lifecycle-state -->\n**PAUSED** since"), "{doc}");
        assert!(doc.find("## Release lifecycle").unwrap() < doc.find("## Readiness checklist").unwrap());
        assert_eq!(Lifecycle::read(&doc, "2.4.1", "log.md").unwrap(), lc);
        assert_eq!(lc.write(&doc), doc, "writing again changes nothing");
        // Someone rewrites the pause by hand into a fresh GO: a move the lifecycle never makes, refused.
        let edited = doc.replacen(r#",{"to":"paused""#, r#",{"to":"go""#, 1);
        let e = Lifecycle::read(&edited, "2.4.1", "log.md").unwrap_err();
        assert!(matches!(e, LifecycleError::Order { .. }) && e.to_string().contains("deployed → GO"), "{e}");
        // Or moves its time before the deploy.
        let edited = doc.replacen(r#""at":"2026-12-01T13:50:00Z""#, r#""at":"2026-12-01T13:10:00Z""#, 1);
        assert!(Lifecycle::read(&edited, "2.4.1", "log.md").unwrap_err().to_string().contains("goes back in time"));
        // Another release's record, a second record, garbage.
        assert!(matches!(Lifecycle::read(&doc, "2.4.0", "log.md"), Err(LifecycleError::OtherRelease { .. })));
        let twice = format!("{doc}\n{}\n", data_line(KIND, "{}"));
        assert!(matches!(Lifecycle::read(&twice, "2.4.1", "log.md"), Err(LifecycleError::Twice { .. })));
        let broken = doc.replacen(r#""release":"2.4.1""#, r#""release":2"#, 1);
        assert!(matches!(Lifecycle::read(&broken, "2.4.1", "log.md"), Err(LifecycleError::Data { .. })));
        assert_eq!(Lifecycle::read("# no record\n", "2.4.1", "log.md").unwrap(), Lifecycle::new("2.4.1"));
    }
}
