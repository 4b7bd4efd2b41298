//! The `freeze-check` section of the policy file, with built-in defaults
//! that encode runbook §3: Tue/Thu 13:00–15:00 UTC windows, the Fri 18:00 →
//! Mon 04:00 UTC weekend freeze, a 90-minute rollback buffer and an
//! emergency label; the Risk Officers who may approve it are named by each
//! repository (none is built in).

use std::path::PathBuf;
use std::str::FromStr;

use jiff::SignedDuration;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// A day of the week, written `mon`..`sun` or in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub Weekday);

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let day = match s.to_ascii_lowercase().as_str() {
            "mon" | "monday" => Weekday::Monday,
            "tue" | "tuesday" => Weekday::Tuesday,
            "wed" | "wednesday" => Weekday::Wednesday,
            "thu" | "thursday" => Weekday::Thursday,
            "fri" | "friday" => Weekday::Friday,
            "sat" | "saturday" => Weekday::Saturday,
            "sun" | "sunday" => Weekday::Sunday,
            _ => return Err(de::Error::custom(format!("unknown day {s:?}; expected one of mon, tue, wed, thu, fri, sat, sun"))),
        };
        Ok(Day(day))
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self.0 {
            Weekday::Monday => "mon",
            Weekday::Tuesday => "tue",
            Weekday::Wednesday => "wed",
            Weekday::Thursday => "thu",
            Weekday::Friday => "fri",
            Weekday::Saturday => "sat",
            Weekday::Sunday => "sun",
        })
    }
}

release_gate_core::string_schema!(
    Day,
    "Day",
    "A day of the week: mon, tue, wed, thu, fri, sat, sun, or in full.",
    pattern = "(?i)^(mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$"
);

/// A wall-clock time `HH:MM`, `00:00` to `24:00` (end of day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime {
    /// Minutes since midnight, 0..=1440.
    pub minutes: u16,
}

impl ClockTime {
    /// Builds a time from hours and minutes.
    pub const fn hm(h: u16, m: u16) -> Self {
        Self { minutes: h * 60 + m }
    }
}

impl FromStr for ClockTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid time {s:?}; expected HH:MM between 00:00 and 24:00, e.g. \"13:00\"");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 24 || m > 59 || (h == 24 && m != 0) || s.len() != 5 {
            return Err(bad());
        }
        Ok(Self::hm(h, m))
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

impl serde::Serialize for ClockTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:02}:{:02}", self.minutes / 60, self.minutes % 60))
    }
}

release_gate_core::string_schema!(
    ClockTime,
    "ClockTime",
    "A wall-clock time HH:MM from 00:00 to 24:00.",
    pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
);

/// An IANA timezone, checked when the policy is read.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// The name as written.
    pub name: String,
    /// The zone.
    pub tz: TimeZone,
}

impl Zone {
    /// Looks up an IANA zone name.
    pub fn named(name: &str) -> Result<Self, String> {
        TimeZone::get(name)
            .map(|tz| Self { name: name.to_owned(), tz })
            .map_err(|_| format!("unknown timezone {name:?}; expected an IANA name such as UTC, Europe/London or America/New_York"))
    }

    /// UTC.
    pub fn utc() -> Self {
        Self { name: "UTC".into(), tz: TimeZone::UTC }
    }
}

impl Default for Zone {
    fn default() -> Self {
        Self::utc()
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Zone::named(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl serde::Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

release_gate_core::string_schema!(Zone, "Zone", "An IANA time zone name such as UTC, Europe/London or America/New_York.");

pub use release_gate_core::policy::{Duration, Instant};

/// A recurring weekly allow window.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Name shown in reports.
    pub name: String,
    /// Days on which the window opens.
    pub days: Vec<Day>,
    /// Opening time (local).
    pub start: ClockTime,
    /// Closing time (local); at or before `start` means the next day.
    pub end: ClockTime,
    /// IANA timezone of the times.
    #[serde(default)]
    pub timezone: Zone,
}

/// A day and a time of the week.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DayTime {
    /// Day.
    pub day: Day,
    /// Time.
    pub time: ClockTime,
}

/// A recurring weekly deny period.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Freeze {
    /// Name shown in reports.
    pub name: String,
    /// When it starts each week.
    pub start: DayTime,
    /// When it ends (the next such moment after the start).
    pub end: DayTime,
    /// IANA timezone of the times.
    #[serde(default)]
    pub timezone: Zone,
}

/// A dated deny period.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Blackout {
    /// Name shown in reports.
    pub name: String,
    /// Start, inclusive.
    pub start: Instant,
    /// End, exclusive.
    pub end: Instant,
}

/// The emergency-change override.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Emergency {
    /// PR label that asks for the override.
    pub label: String,
    /// Logins, or `org/team` slugs, whose approval grants it.
    pub approvers: Vec<String>,
}

impl Default for Emergency {
    fn default() -> Self {
        // No approver is built in: a default naming anyone would let those
        // accounts lift the freeze on every repository that relies on it.
        Self { label: "emergency-change".into(), approvers: Vec::new() }
    }
}

/// Release-train scope rules for pull requests.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ReleaseTrain {
    /// Whether the rule applies.
    pub enabled: bool,
    /// Required label; `{release}` is replaced by the release id.
    pub label: String,
    /// Ticket key pattern searched in title, body and head branch.
    pub ticket_pattern: String,
    /// The train's pull requests exported as `gh pr list --base
    /// release/{release} --state merged --json
    /// number,title,body,headRefName,labels,author,mergedAt` writes them
    /// (`{release}` replaced): checked by the same rule, PR by PR, where
    /// there is no pull request to check (a push, a local run).
    pub file: Option<String>,
}

impl Default for ReleaseTrain {
    fn default() -> Self {
        Self { enabled: true, label: "release-{release}".into(), ticket_pattern: "[A-Z][A-Z0-9]+-[0-9]+".into(), file: None }
    }
}

/// Optional on-call coverage rule (runbook §3.4).
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OnCall {
    /// Roster file, relative to the repository root.
    pub roster: PathBuf,
    /// How long after now must be covered.
    #[serde(default = "six_hours")]
    pub cover: Duration,
    /// Distinct UTC offsets that must be on call at every moment.
    #[serde(default = "two")]
    pub min_timezones: usize,
}

fn six_hours() -> Duration {
    Duration(SignedDuration::from_hours(6))
}

fn two() -> usize {
    2
}

/// The `freeze-check:` section.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct FreezePolicy {
    /// Allow windows.
    pub windows: Vec<Window>,
    /// Recurring deny periods.
    pub freezes: Vec<Freeze>,
    /// Dated deny periods.
    pub blackouts: Vec<Blackout>,
    /// ICS files whose every event is a blackout.
    pub calendars: Vec<PathBuf>,
    /// Timezone for calendar events without one (all-day and floating).
    pub calendar_timezone: Zone,
    /// Rollback buffer after a deploy starts.
    pub buffer: Duration,
    /// Emergency override.
    pub emergency: Emergency,
    /// Release-train scope.
    pub release_train: ReleaseTrain,
    /// On-call coverage.
    pub oncall: Option<OnCall>,
    /// How far ahead to search for the next open window.
    pub search_days: u32,
}

impl Default for FreezePolicy {
    fn default() -> Self {
        let utc = Zone::utc();
        Self {
            windows: vec![Window {
                name: "primary".into(),
                days: vec![Day(Weekday::Tuesday), Day(Weekday::Thursday)],
                start: ClockTime::hm(13, 0),
                end: ClockTime::hm(15, 0),
                timezone: utc.clone(),
            }],
            freezes: vec![Freeze {
                name: "weekend".into(),
                start: DayTime { day: Day(Weekday::Friday), time: ClockTime::hm(18, 0) },
                end: DayTime { day: Day(Weekday::Monday), time: ClockTime::hm(4, 0) },
                timezone: utc.clone(),
            }],
            blackouts: Vec::new(),
            calendars: Vec::new(),
            calendar_timezone: utc,
            buffer: Duration(SignedDuration::from_mins(90)),
            emergency: Emergency::default(),
            release_train: ReleaseTrain::default(),
            oncall: None,
            search_days: 60,
        }
    }
}

impl release_gate_core::policy::GateSection for FreezePolicy {
    const NAME: &'static str = "freeze-check";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let yaml = r#"
freeze-check:
  windows:   [{name: primary, days: [tue, thu], start: "13:00", end: "15:00", timezone: UTC}]
  freezes:   [{name: weekend, start: {day: fri, time: "18:00"}, end: {day: mon, time: "04:00"}, timezone: UTC}]
  blackouts: [{name: FOMC, start: 2026-12-16T18:00:00Z, end: 2026-12-16T21:00:00Z}]
  calendars: [.github/market-events.ics]
  buffer: 90m
  emergency: {label: emergency-change, approvers: [alice, bob]}
"#;
        let p: release_gate_core::policy::PolicyFile<FreezePolicy> =
            release_gate_core::policy::parse_yaml(yaml, std::path::Path::new("p.yml")).expect("valid");
        let d = FreezePolicy::default();
        assert_eq!(p.section.windows, d.windows);
        assert_eq!(p.section.freezes, d.freezes);
        assert_eq!(p.section.buffer, d.buffer);
        assert_eq!(p.section.emergency, Emergency { label: "emergency-change".into(), approvers: vec!["alice".into(), "bob".into()] });
        assert!(d.emergency.approvers.is_empty(), "no approver is built in");
        assert_eq!(p.section.blackouts.len(), 1);
        assert_eq!(p.section.calendars, vec![PathBuf::from(".github/market-events.ics")]);
    }

    #[test]
    fn bad_values_name_their_line() {
        let parse = |y: &str| {
            release_gate_core::policy::parse_yaml::<release_gate_core::policy::PolicyFile<FreezePolicy>>(y, std::path::Path::new("p.yml"))
                .expect_err("invalid")
                .to_string()
        };
        let e = parse("freeze-check:\n  windows:\n    - {name: a, days: [tue], start: \"25:00\", end: \"15:00\"}\n");
        assert!(e.starts_with("p.yml:3:"), "{e}");
        assert!(e.contains("expected HH:MM"), "{e}");
        let e = parse("freeze-check:\n  windows:\n    - {name: a, days: [tue], start: \"13:00\", end: \"15:00\", timezone: Mars/Base}\n");
        assert!(e.contains("unknown timezone \"Mars/Base\""), "{e}");
        let e = parse("freeze-check:\n  buffer: soon\n");
        assert!(e.starts_with("p.yml:2:"), "{e}");
        let e = parse("freeze-check:\n  windows:\n    - {name: a, days: [someday], start: \"13:00\", end: \"15:00\"}\n");
        assert!(e.contains("unknown day \"someday\""), "{e}");
        let e = parse("freeze-check:\n  blackouts: [{name: x, start: 2026-12-16 18:00, end: 2026-12-16T21:00:00Z}]\n");
        assert!(e.contains("RFC 3339"), "{e}");
    }
}
