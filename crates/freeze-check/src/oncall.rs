//! On-call coverage (runbook §3.4): for the hours after a deploy, people in
//! at least two timezones must be on the bridge. Timezones are told apart by
//! their UTC offset at that moment, so London and Dublin count once: the
//! point is follow-the-sun cover, not two names for the same daylight.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::policy::{Instant, Zone};

/// One shift on the roster.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// Who.
    pub person: String,
    /// Their IANA timezone.
    pub timezone: Zone,
    /// Shift start.
    pub start: Instant,
    /// Shift end (exclusive).
    pub end: Instant,
}

/// The roster file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Shifts, in any order.
    pub shifts: Vec<Shift>,
}

/// Parses a roster with positions in its errors.
pub fn parse(text: &str, shown_as: &Path) -> Result<Roster, release_gate_core::policy::PolicyError> {
    release_gate_core::policy::parse_yaml(text, shown_as)
}

/// A stretch with too few timezones on call.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// Who is on call then (person and timezone).
    pub on_call: Vec<String>,
}

/// The stretches of `[now, now + cover)` with fewer than `min` distinct offsets on call.
pub fn gaps(roster: &Roster, now: Timestamp, cover: SignedDuration, min: usize) -> Vec<Gap> {
    let end = now.checked_add(cover).unwrap_or(now);
    let mut cuts: BTreeSet<Timestamp> = [now, end].into_iter().collect();
    for s in &roster.shifts {
        for t in [s.start.0, s.end.0] {
            if now < t && t < end {
                cuts.insert(t);
            }
        }
    }
    let cuts: Vec<Timestamp> = cuts.into_iter().collect();
    let mut out: Vec<Gap> = Vec::new();
    for pair in cuts.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let on: Vec<&Shift> = roster.shifts.iter().filter(|s| s.start.0 <= a && a < s.end.0).collect();
        let offsets: BTreeSet<i32> = on.iter().map(|s| s.timezone.tz.to_offset(a).seconds()).collect();
        if offsets.len() >= min {
            continue;
        }
        let who: Vec<String> = on.iter().map(|s| format!("{} ({})", s.person, s.timezone.name)).collect();
        match out.last_mut() {
            Some(g) if g.end == a && g.on_call == who => g.end = b,
            _ => out.push(Gap { start: a, end: b, on_call: who }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn shift(person: &str, tz: &str, start: &str, end: &str) -> Shift {
        Shift { person: person.into(), timezone: Zone::named(tz).expect("tz"), start: Instant(ts(start)), end: Instant(ts(end)) }
    }

    #[test]
    fn two_offsets_for_six_hours() {
        let six = SignedDuration::from_hours(6);
        let roster = Roster {
            shifts: vec![
                shift("alice", "Europe/London", "2026-12-01T08:00:00Z", "2026-12-01T20:00:00Z"),
                shift("bob", "America/New_York", "2026-12-01T13:00:00Z", "2026-12-01T23:00:00Z"),
                shift("dara", "Europe/Dublin", "2026-12-01T10:00:00Z", "2026-12-01T22:00:00Z"),
            ],
        };
        assert!(gaps(&roster, ts("2026-12-01T13:00:00Z"), six, 2).is_empty());
        // From 10:00 only London and Dublin (one offset) until bob starts at 13:00.
        let g = gaps(&roster, ts("2026-12-01T10:00:00Z"), six, 2);
        assert_eq!(g.len(), 1);
        assert_eq!((g[0].start, g[0].end), (ts("2026-12-01T10:00:00Z"), ts("2026-12-01T13:00:00Z")));
        assert_eq!(g[0].on_call, vec!["alice (Europe/London)".to_owned(), "dara (Europe/Dublin)".to_owned()]);
        // Late: alice leaves at 20:00, dara at 22:00, bob at 23:00.
        let g = gaps(&roster, ts("2026-12-01T18:00:00Z"), six, 2);
        assert_eq!(g.first().map(|g| g.start), Some(ts("2026-12-01T22:00:00Z")));
        assert_eq!(g.last().map(|g| g.end), Some(ts("2026-12-02T00:00:00Z")));
    }
}
