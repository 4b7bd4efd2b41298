//! freeze-check: may a production deploy start now? (runbook §3, and the
//! "change scope locked" item of §1).
//!
//! The rules ([`evaluate`]) are a pure function of the policy, an instant,
//! the calendars, the pull request and the on-call roster; [`run`] gathers
//! those at the edge (clock, files, GitHub) and hands the report to the core.

pub mod engine;
pub mod ics;
pub mod observe;
pub mod oncall;
pub mod policy;
pub mod scope;

pub use observe::{files_read, inputs, pull_facts};

use std::path::Path;

use clap::Parser;
use jiff::{SignedDuration, Timestamp};
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::report::{Check, Report, Section, Status, Verdict, data, rfc3339};
use release_gate_core::{Run, render};

use crate::engine::{Interval, Kind};
use crate::policy::{FreezePolicy, Zone};
use crate::scope::PullFacts;

/// Decide whether a production deploy may start now: release windows,
/// freezes, blackouts and market-event calendars, the rollback buffer, the
/// emergency override and release-train scope.
#[derive(Debug, Parser)]
#[command(name = "freeze-check", version, max_term_width = 100, after_help = release_gate_core::cli::after_help(&[("may a deploy of 2.4.0 start now?", "freeze-check --release 2.4.0"), ("a dry run at another instant", "freeze-check --release 2.4.0 --now 2026-12-05T10:00:00Z")]))]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Args {
    /// A local run's flags (`release-gate run`): nothing from the environment.
    pub fn local(common: CommonArgs) -> Self {
        Self { common }
    }
}

impl release_gate_core::gate::Gate for Args {
    const NAME: &'static str = "freeze-check";

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn run(self, ctx: Context) -> anyhow::Result<Verdict> {
        run(self, ctx)
    }
}

/// Everything the rules look at besides the policy.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The instant evaluated.
    pub now: Timestamp,
    /// Calendar events (blackouts).
    pub calendar: Vec<Interval>,
    /// The pull request, on pull_request events.
    pub pr: Option<PullFacts>,
    /// The train's exported pull requests, when configured and there
    /// (`Err`: configured, and where it was looked for).
    pub train: Option<Result<scope::Train, String>>,
    /// The on-call roster, when configured.
    pub roster: Option<oncall::Roster>,
    /// Timezone shown beside UTC.
    pub display: Zone,
}

/// `Tue 2026-12-08 13:00 UTC`, plus the display zone's local time when it is not UTC.
pub fn when(t: Timestamp, display: &Zone) -> String {
    let utc = t.strftime("%a %Y-%m-%d %H:%M UTC").to_string();
    if display.name == "UTC" {
        return utc;
    }
    let local = t.to_zoned_datetime(display.tz.clone());
    format!("{utc} / {}", local.strftime("%a %H:%M %Z"))
}

fn buffer_text(d: SignedDuration) -> String {
    let m = d.as_mins();
    if m % 60 == 0 && m > 0 { format!("{}h", m / 60) } else { format!("{m}m") }
}

/// Applies every rule and fills the report.
pub fn evaluate(policy: &FreezePolicy, release: &str, input: &Inputs, report: &mut Report) {
    let now = input.now;
    let buffer = policy.buffer.0;
    let horizon = SignedDuration::from_hours(24 * i64::from(policy.search_days));
    let from = now.checked_sub(SignedDuration::from_hours(24 * 8)).unwrap_or(now);
    let to = now.checked_add(horizon).unwrap_or(now);
    let intervals = engine::expand(policy, &input.calendar, from, to);
    let a = engine::assess(&intervals, now, buffer);
    let show = |t: Timestamp| when(t, &input.display);
    let buf = buffer_text(buffer);

    // The emergency override: only freezes and windows can be overridden, never blackouts.
    let blackout_hit = !a.blackouts.is_empty() || a.buffer_conflicts.iter().any(|i| i.kind == Kind::Blackout);
    let needed = !a.allowed();
    let outcome = input.pr.as_ref().filter(|_| needed).map(|pr| scope::emergency(&policy.emergency, pr));
    let emergency = match (&input.pr, &outcome, needed) {
        (_, _, false) => None,
        (None, _, true) => {
            Some(Err(format!("no pull request in this event; an emergency change needs a PR with the `{}` label", policy.emergency.label)))
        }
        (Some(_), Some(o), true) => Some(match &o.approval {
            Some(a) => Ok(a.clone()),
            None => Err(o.refusal.clone().unwrap_or_default()),
        }),
        (Some(_), None, true) => None,
    };
    let granted = match &emergency {
        Some(Ok(approval)) if !blackout_hit => Some(approval.clone()),
        _ => None,
    };
    let override_note = granted.as_ref().map(|g| format!("allowed by the emergency change approved by {} ({})", g.approver, g.via));

    // window
    report.push(match (&a.window, &override_note) {
        (Some(w), _) => Check::new("window", Status::Pass, format!("inside release window `{}` (until {})", w.name, show(w.end))),
        (None, Some(note)) => Check::new("window", Status::Warn, format!("outside every release window; {note}")),
        (None, None) => {
            let names: Vec<String> = policy.windows.iter().map(|w| format!("`{}`", w.name)).collect();
            let which = if names.is_empty() { "no windows are configured".to_owned() } else { names.join(", ") };
            Check::new("window", Status::Fail, format!("outside every release window ({which})"))
        }
    });
    // freeze
    report.push(match (a.freezes.first(), &override_note) {
        (None, _) => Check::new("freeze", Status::Pass, "no freeze in effect"),
        (Some(f), Some(note)) => Check::new("freeze", Status::Warn, format!("inside freeze `{}` until {}; {note}", f.name, show(f.end))),
        (Some(f), None) => Check::new("freeze", Status::Fail, format!("inside freeze `{}` until {}", f.name, show(f.end))),
    });
    // blackout
    report.push(match a.blackouts.first() {
        None => Check::new("blackout", Status::Pass, "no blackout or market event in effect"),
        Some(b) => Check::new(
            "blackout",
            Status::Fail,
            format!("inside blackout `{}` until {}; blackouts cannot be overridden", b.name, show(b.end)),
        ),
    });
    // rollback buffer
    report.push(match a.buffer_conflicts.first() {
        None => {
            let end = now.checked_add(buffer).unwrap_or(now);
            Check::new(
                "rollback-buffer",
                Status::Pass,
                format!("the {buf} rollback buffer ends {} before any freeze or blackout", show(end)),
            )
        }
        Some(c) => {
            let latest = c.start.checked_sub(buffer).unwrap_or(c.start);
            let msg = format!(
                "a deploy now plus the {buf} rollback buffer reaches into `{}` (starts {}); a deploy had to start before {}",
                c.name,
                show(c.start),
                show(latest)
            );
            let only_freezes = a.buffer_conflicts.iter().all(|i| i.kind == Kind::Freeze);
            match &override_note {
                Some(note) if only_freezes => Check::new("rollback-buffer", Status::Warn, format!("{msg}; {note}")),
                _ => Check::new("rollback-buffer", Status::Fail, msg),
            }
        }
    });
    // emergency
    report.push(match &emergency {
        None => Check::new("emergency", Status::Skip, "not needed: the time rules allow a deploy now"),
        Some(Ok(g)) if blackout_hit => {
            Check::new("emergency", Status::Fail, format!("approved by {} but an emergency change cannot override a blackout", g.approver))
        }
        Some(Ok(g)) => Check::new(
            "emergency",
            Status::Warn,
            format!(
                "emergency change approved by {} (via {}, {} permission) at {}: {}",
                g.approver,
                g.via,
                g.permission.as_str(),
                g.at,
                g.url
            ),
        ),
        Some(Err(why)) => {
            let labelled = input.pr.as_ref().is_some_and(|pr| pr.labels.iter().any(|l| l == &policy.emergency.label));
            Check::new("emergency", if labelled { Status::Fail } else { Status::Skip }, why.clone())
        }
    });
    // release train
    // A skipped rule is not evidence: "Change scope locked" reads this check
    // and ticks only on a pass.
    let skip = |why: String| Check::new("release-train", Status::Skip, why);
    let train: Result<Result<String, String>, Check> = match (&input.pr, policy.release_train.enabled, &input.train) {
        (_, false, _) => Err(skip("disabled in the policy".into())),
        (Some(pr), true, _) => Ok(scope::release_train(&policy.release_train, release, pr)),
        (None, true, Some(Ok(t))) => Ok(scope::release_train_of(&policy.release_train, release, t)),
        (None, true, Some(Err(missing))) => {
            Err(skip(format!("not a pull request event, and no train export at `{missing}`: nothing was checked")))
        }
        (None, true, None) => Err(skip(
            "not a pull request event, and no train export configured (freeze-check.release-train.file): nothing was checked".into(),
        )),
    };
    report.push(match train {
        Ok(Ok(msg)) => Check::new("release-train", Status::Pass, msg),
        Ok(Err(msg)) => Check::new("release-train", Status::Fail, msg),
        Err(skip) => skip,
    });
    // on-call
    report.push(match (&policy.oncall, &input.roster) {
        (Some(rule), Some(roster)) => {
            let gaps = oncall::gaps(roster, now, rule.cover.0, rule.min_timezones);
            match gaps.first() {
                None => Check::new("on-call", Status::Pass, format!("{} timezones on call for the next {}", rule.min_timezones, buffer_text(rule.cover.0))),
                Some(g) => Check::new(
                    "on-call",
                    Status::Fail,
                    format!(
                        "from {} to {} fewer than {} timezones are on call ({}); runbook §3.4 asks for follow-the-sun cover for {} after the deploy",
                        show(g.start),
                        show(g.end),
                        rule.min_timezones,
                        if g.on_call.is_empty() { "nobody".to_owned() } else { g.on_call.join(", ") },
                        buffer_text(rule.cover.0)
                    ),
                ),
            }
        }
        _ => Check::new("on-call", Status::Skip, "no on-call roster configured"),
    });

    let time_ok = a.allowed() || granted.is_some();
    report.output("allowed", time_ok.to_string());
    report.output("emergency", granted.is_some().to_string());
    let next = if time_ok { None } else { engine::next_open(&intervals, now, buffer) };
    if !time_ok {
        report.output("next_window", next.map(rfc3339).unwrap_or_default());
    }
    if let Some(t) = a.latest_safe_start {
        report.output("latest_safe_start", rfc3339(t));
    }
    report.title = match (report.verdict, a.latest_safe_start, &granted) {
        (Verdict::Fail, _, _) if time_ok => "Deploy refused by the pull-request rules".to_owned(),
        (Verdict::Fail, _, _) => match next {
            Some(n) => format!("Deploys are closed; the next safe start is {}", show(n)),
            None => format!("Deploys are closed, and no safe start was found in the next {} days", policy.search_days),
        },
        (_, _, Some(g)) => format!("Deploy allowed by an emergency change approved by {}", g.approver),
        (_, Some(t), None) => format!("Deploys are open; start before {}", show(t)),
        _ => "Deploys are open".to_owned(),
    };
    if !time_ok {
        report.details.push(Section {
            title: "Next open window".into(),
            markdown: match next {
                Some(n) => format!(
                    "A deploy may next start at **{}**{} ({buf} rollback buffer, freezes and blackouts honoured).",
                    n.strftime("%a %Y-%m-%d %H:%M UTC"),
                    if input.display.name == "UTC" {
                        String::new()
                    } else {
                        format!(" = {}", n.to_zoned_datetime(input.display.tz.clone()).strftime("%a %Y-%m-%d %H:%M %Z"))
                    }
                ),
                None => format!(
                    "No safe start in the next {} days: check the windows, freezes and blackouts in the policy.",
                    policy.search_days
                ),
            },
        });
    }
    let week = now.checked_add(SignedDuration::from_hours(24 * 7)).unwrap_or(now);
    let mut upcoming = render::Table::new(&["name", "kind", "from", "until"]);
    for i in intervals.iter().filter(|i| i.kind != Kind::Window && i.end > now && i.start < week).take(10) {
        let kind = if i.kind == Kind::Freeze { "freeze" } else { "blackout" };
        upcoming.row([render::code(&i.name), kind.to_owned(), show(i.start), show(i.end)]);
    }
    if !upcoming.is_empty() {
        report
            .details
            .push(Section { title: "Freezes and blackouts in the next 7 days".into(), markdown: upcoming.finish().trim_end().to_owned() });
    }
    let not_counting = outcome.as_ref().map(|o| o.not_counting.clone()).unwrap_or_default();
    if !not_counting.is_empty() {
        let mut t = render::Table::new(&["reviewer", "why not", "review"]);
        for n in &not_counting {
            t.row([render::code(&n.login), n.why.clone(), n.url.clone()]);
        }
        report.details.push(Section { title: "Approvals that do not count".into(), markdown: t.finish().trim_end().to_owned() });
    }
    report.set_data(&data::FreezeCheck {
        evaluated_at: rfc3339(now),
        buffer_minutes: buffer.as_mins(),
        window: a.window.as_ref().map(|w| data::Window { name: w.name.clone(), start: rfc3339(w.start), end: rfc3339(w.end) }),
        emergency: granted.as_ref().map(|g| data::Emergency {
            approver: g.approver.clone(),
            via: g.via.clone(),
            permission: g.permission.as_str().to_owned(),
            approved_at: g.at.clone(),
            review_url: g.url.clone(),
        }),
        not_counting: not_counting
            .iter()
            .map(|n| data::NotCounting { reviewer: n.login.clone(), why: n.why.clone(), review_url: n.url.clone() })
            .collect(),
    });
}

/// Reads what the rules need, evaluates them and publishes the report.
pub fn run(args: Args, ctx: Context) -> anyhow::Result<Verdict> {
    let run = Run::<FreezePolicy>::start("freeze-check", args.common, ctx)?;
    let policy = &run.policy.section;
    let pr = match &run.ctx.pull_request {
        Some(pr) => Some(run.block_on(pull_facts(run.github(), pr, policy))?),
        None => None,
    };
    let read = |path: &Path, what: &str| Ok(run.root.read_text(path, what)?);
    let mut input = inputs(policy, &run.policy.reporting.display_timezone, &read, run.now, pr)?;
    input.train = observe::train(policy, &run.release, &run.root)?;
    let mut report = run.new_report();
    evaluate(policy, &run.release, &input, &mut report);
    run.finish(report)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn cli_is_well_formed() {
        super::Args::command().debug_assert();
    }
}
