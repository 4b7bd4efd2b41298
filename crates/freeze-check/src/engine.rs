//! The time engine: expands windows, freezes, blackouts and calendar events
//! into UTC intervals, and answers "may a deploy start at this instant, and
//! if not, when next?". Pure functions of the policy and an instant.
//!
//! Local times are turned into instants with jiff's "compatible"
//! disambiguation: a time that falls in a spring-forward gap moves forward by
//! the gap, and a repeated fall-back time takes its first occurrence.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::policy::{ClockTime, FreezePolicy};

/// What an interval does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A release window (allow).
    Window,
    /// A recurring freeze (deny; an emergency change may override it).
    Freeze,
    /// A dated blackout or calendar event (deny, never overridden).
    Blackout,
}

/// A named half-open interval `[start, end)` in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    /// Name from the policy or the calendar.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Start, inclusive.
    pub start: Timestamp,
    /// End, exclusive.
    pub end: Timestamp,
}

impl Interval {
    /// Whether `t` lies inside.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether `[a, b)` overlaps this interval.
    pub fn overlaps(&self, a: Timestamp, b: Timestamp) -> bool {
        self.start < b && a < self.end
    }

    /// Whether a deploy starting at `now` would still be inside its rollback
    /// buffer when this interval begins. A buffer that ends exactly as the
    /// interval starts conflicts too: the rollback must be over *before* a
    /// freeze, so "start before X" is always an exclusive bound.
    pub fn reached_by(&self, now: Timestamp, buffer: SignedDuration) -> bool {
        let buffer_end = now.checked_add(buffer).unwrap_or(now);
        self.start <= buffer_end && now < self.end
    }
}

/// A local wall-clock time on a date, as an instant.
pub fn local(tz: &TimeZone, date: Date, time: ClockTime) -> Timestamp {
    let (date, minutes) = if time.minutes >= 1440 { (date.tomorrow().unwrap_or(date), 0) } else { (date, time.minutes) };
    let dt = date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
    to_instant(tz, dt)
}

/// A civil date-time in `tz` as an instant (gap: forward; fold: earlier).
pub fn to_instant(tz: &TimeZone, dt: DateTime) -> Timestamp {
    // Only fails outside jiff's supported years (-9999..=9999), which no policy reaches.
    tz.to_ambiguous_timestamp(dt).compatible().unwrap_or(Timestamp::UNIX_EPOCH)
}

fn dates(tz: &TimeZone, from: Timestamp, to: Timestamp) -> impl Iterator<Item = Date> {
    let first = tz.to_datetime(from).date().checked_sub(8.days()).unwrap_or(Date::MIN);
    let last = tz.to_datetime(to).date().checked_add(8.days()).unwrap_or(Date::MAX);
    first.series(1.day()).take_while(move |d| *d <= last)
}

/// Every interval of the policy's windows, freezes and blackouts that
/// overlaps `[from, to)`, plus the calendar events given.
pub fn expand(policy: &FreezePolicy, calendar: &[Interval], from: Timestamp, to: Timestamp) -> Vec<Interval> {
    let mut out = Vec::new();
    for w in &policy.windows {
        let tz = &w.timezone.tz;
        for d in dates(tz, from, to) {
            if !w.days.iter().any(|day| day.0 == d.weekday()) {
                continue;
            }
            let start = local(tz, d, w.start);
            let end_date = if w.end <= w.start { d.tomorrow().unwrap_or(d) } else { d };
            let end = local(tz, end_date, w.end);
            out.push(Interval { name: w.name.clone(), kind: Kind::Window, start, end });
        }
    }
    for f in &policy.freezes {
        let tz = &f.timezone.tz;
        for d in dates(tz, from, to) {
            if d.weekday() != f.start.day.0 {
                continue;
            }
            let start = local(tz, d, f.start.time);
            let ahead = (f.end.day.0.to_monday_zero_offset() - f.start.day.0.to_monday_zero_offset()).rem_euclid(7);
            let mut end_date = d.checked_add(i64::from(ahead).days()).unwrap_or(d);
            let mut end = local(tz, end_date, f.end.time);
            if end <= start {
                end_date = end_date.checked_add(7.days()).unwrap_or(end_date);
                end = local(tz, end_date, f.end.time);
            }
            out.push(Interval { name: f.name.clone(), kind: Kind::Freeze, start, end });
        }
    }
    for b in &policy.blackouts {
        out.push(Interval { name: b.name.clone(), kind: Kind::Blackout, start: b.start.0, end: b.end.0 });
    }
    out.extend(calendar.iter().cloned());
    out.retain(|i| i.overlaps(from, to));
    out.sort_by_key(|i| (i.start, i.end));
    out
}

/// The rules' view of one instant.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The window containing now, if any.
    pub window: Option<Interval>,
    /// Freezes in effect now.
    pub freezes: Vec<Interval>,
    /// Blackouts in effect now.
    pub blackouts: Vec<Interval>,
    /// Deny intervals that `[now, now + buffer)` reaches into (excluding those in effect now).
    pub buffer_conflicts: Vec<Interval>,
    /// The end of the stretch in which a deploy may start, when now is allowed.
    pub latest_safe_start: Option<Timestamp>,
    /// The next instant at which a deploy would be allowed (never now when now is refused).
    pub next_open: Option<Timestamp>,
}

impl Assessment {
    /// Whether every time rule allows a deploy now.
    pub fn allowed(&self) -> bool {
        self.window.is_some() && self.freezes.is_empty() && self.blackouts.is_empty() && self.buffer_conflicts.is_empty()
    }
}

/// The deny intervals, each pulled earlier by the rollback buffer: a deploy
/// starting inside one would still be rolling back when the deny begins.
fn shadowed(deny: &[&Interval], buffer: SignedDuration, only: Option<Kind>) -> Vec<(Timestamp, Timestamp)> {
    deny.iter().filter(|i| only.is_none_or(|k| i.kind == k)).map(|i| (i.start.checked_sub(buffer).unwrap_or(i.start), i.end)).collect()
}

/// The earliest instant `>= from` inside a window and outside every shadowed deny interval.
fn earliest_allowed(windows: &[&Interval], deny: &[(Timestamp, Timestamp)], from: Timestamp) -> Option<(Timestamp, Timestamp)> {
    for w in windows {
        if w.end <= from {
            continue;
        }
        let mut c = w.start.max(from);
        while let Some(e) = deny.iter().filter(|(s, e)| *s <= c && c < *e).map(|(_, e)| *e).max() {
            c = e;
        }
        if c < w.end {
            // The stretch lasts until the window ends or the next shadowed deny begins.
            let until = deny.iter().map(|(s, _)| *s).filter(|s| *s > c).min().map_or(w.end, |s| s.min(w.end));
            return Some((c, until));
        }
    }
    None
}

/// Assesses `now` against the intervals (from [`expand`]) and the buffer.
pub fn assess(intervals: &[Interval], now: Timestamp, buffer: SignedDuration) -> Assessment {
    let windows: Vec<&Interval> = intervals.iter().filter(|i| i.kind == Kind::Window).collect();
    let deny: Vec<&Interval> = intervals.iter().filter(|i| i.kind != Kind::Window).collect();
    let in_effect = |k: Kind| deny.iter().filter(|i| i.kind == k && i.contains(now)).map(|i| (*i).clone()).collect::<Vec<_>>();
    let freezes = in_effect(Kind::Freeze);
    let blackouts = in_effect(Kind::Blackout);
    let buffer_conflicts = deny.iter().filter(|i| !i.contains(now) && i.reached_by(now, buffer)).map(|i| (*i).clone()).collect();
    let window = windows.iter().find(|w| w.contains(now)).map(|w| (*w).clone());
    let shadow = shadowed(&deny, buffer, None);
    let here = earliest_allowed(&windows, &shadow, now);
    let latest_safe_start = here.filter(|(s, _)| *s == now).map(|(_, until)| until);
    let next_open = here.map(|(s, _)| s).filter(|s| *s > now);
    Assessment { window, freezes, blackouts, buffer_conflicts, latest_safe_start, next_open }
}

/// Under an approved emergency change: the deny set without freezes (only
/// blackouts count, buffer included), windows not required. Returns the
/// blackouts in effect or reached by the buffer.
pub fn emergency_conflicts(intervals: &[Interval], now: Timestamp, buffer: SignedDuration) -> Vec<Interval> {
    intervals.iter().filter(|i| i.kind == Kind::Blackout && i.reached_by(now, buffer)).cloned().collect()
}

/// The next instant allowed with windows required and every deny honoured,
/// searched from `from`; for the `next_window` output.
pub fn next_open(intervals: &[Interval], from: Timestamp, buffer: SignedDuration) -> Option<Timestamp> {
    let windows: Vec<&Interval> = intervals.iter().filter(|i| i.kind == Kind::Window).collect();
    let deny: Vec<&Interval> = intervals.iter().filter(|i| i.kind != Kind::Window).collect();
    earliest_allowed(&windows, &shadowed(&deny, buffer, None), from).map(|(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Blackout, Day, DayTime, Freeze, Instant, Window, Zone};
    use jiff::civil::Weekday;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn policy() -> FreezePolicy {
        FreezePolicy::default()
    }

    fn at(p: &FreezePolicy, now: &str) -> Assessment {
        at_with(p, &[], now)
    }

    fn at_with(p: &FreezePolicy, cal: &[Interval], now: &str) -> Assessment {
        let now = ts(now);
        let iv = expand(
            p,
            cal,
            now.checked_sub(SignedDuration::from_hours(24 * 8)).expect("t"),
            now.checked_add(SignedDuration::from_hours(24 * 61)).expect("t"),
        );
        assess(&iv, now, p.buffer.0)
    }

    #[test]
    fn default_window_edges() {
        let p = policy();
        // 2026-12-01 is a Tuesday.
        let cases = [
            ("2026-12-01T12:59:59Z", false),
            ("2026-12-01T13:00:00Z", true),
            ("2026-12-01T14:59:59Z", true),
            ("2026-12-01T15:00:00Z", false),
            ("2026-12-02T13:30:00Z", false), // Wednesday
            ("2026-12-03T13:30:00Z", true),  // Thursday
        ];
        for (now, allowed) in cases {
            assert_eq!(at(&p, now).allowed(), allowed, "{now}");
        }
        let a = at(&p, "2026-12-01T13:00:00Z");
        assert_eq!(a.latest_safe_start, Some(ts("2026-12-01T15:00:00Z")));
        let a = at(&p, "2026-12-01T15:00:00Z");
        assert_eq!(a.next_open, Some(ts("2026-12-03T13:00:00Z")));
    }

    #[test]
    fn weekend_freeze_wraps_the_week_end() {
        let mut p = policy();
        // A window open every day, all day, so only the freeze decides.
        p.windows = vec![Window {
            name: "always".into(),
            days: [
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
                Weekday::Saturday,
                Weekday::Sunday,
            ]
            .into_iter()
            .map(Day)
            .collect(),
            start: "00:00".parse().expect("t"),
            end: "24:00".parse().expect("t"),
            timezone: Zone::utc(),
        }];
        p.buffer = crate::policy::Duration(SignedDuration::ZERO);
        // 2026-12-04 is a Friday.
        assert!(at(&p, "2026-12-04T17:59:59Z").allowed());
        let a = at(&p, "2026-12-04T18:00:00Z");
        assert_eq!(a.freezes.len(), 1);
        assert_eq!(a.freezes[0].end, ts("2026-12-07T04:00:00Z"));
        assert!(!at(&p, "2026-12-06T23:00:00Z").allowed());
        assert!(!at(&p, "2026-12-07T03:59:59Z").allowed());
        assert!(at(&p, "2026-12-07T04:00:00Z").allowed());
        assert_eq!(at(&p, "2026-12-05T10:00:00Z").next_open, Some(ts("2026-12-07T04:00:00Z")));
    }

    #[test]
    fn buffer_reaches_into_a_freeze_and_blackout() {
        let mut p = policy();
        p.windows[0].days.push(Day(Weekday::Friday));
        p.windows[0].start = "16:00".parse().expect("t");
        p.windows[0].end = "18:00".parse().expect("t");
        // Friday 16:30 + 90m = 18:00: the rollback would end as the freeze starts; 16:29 is the last safe minute.
        let a = at(&p, "2026-12-04T16:29:00Z");
        assert!(a.allowed());
        assert_eq!(a.latest_safe_start, Some(ts("2026-12-04T16:30:00Z")));
        let a = at(&p, "2026-12-04T16:30:00Z");
        assert!(!a.allowed());
        assert_eq!(a.buffer_conflicts[0].name, "weekend");
        assert!(a.window.is_some());
        // Blackout on Tuesday 15:30: a 13:00 start is fine, 14:01 is not.
        p.blackouts.push(Blackout {
            name: "FOMC".into(),
            start: Instant(ts("2026-12-01T15:30:00Z")),
            end: Instant(ts("2026-12-01T16:00:00Z")),
        });
        p.windows[0].start = "13:00".parse().expect("t");
        p.windows[0].end = "17:00".parse().expect("t");
        let a = at(&p, "2026-12-01T13:00:00Z");
        assert!(a.allowed());
        assert_eq!(a.latest_safe_start, Some(ts("2026-12-01T14:00:00Z")));
        let a = at(&p, "2026-12-01T14:00:00Z");
        assert!(!a.allowed());
        assert_eq!(a.buffer_conflicts[0].name, "FOMC");
        assert_eq!(a.next_open, Some(ts("2026-12-01T16:00:00Z")));
    }

    #[test]
    fn the_window_bounds_the_start_and_the_buffer_bounds_only_the_next_freeze_or_blackout() {
        // docs/freeze-check.md "The rollback buffer": §3.1's window is when a
        // release starts; §3.3's buffer runs after it and must end before a
        // freeze or blackout, not before the window closes.
        let p = policy();
        let a = at(&p, "2026-12-01T14:59:00Z");
        assert!(a.allowed(), "the last minute of Tuesday's window: the buffer (to 16:29) may run past 15:00");
        assert!(a.buffer_conflicts.is_empty());
        assert_eq!(a.latest_safe_start, Some(ts("2026-12-01T15:00:00Z")), "the window's end is the latest start");
        let a = at(&p, "2026-12-01T15:00:00Z");
        assert!(!a.allowed(), "one minute later the window is closed");
        assert!(a.window.is_none());
        assert_eq!(a.next_open, Some(ts("2026-12-03T13:00:00Z")), "Thursday's window");
    }

    #[test]
    fn window_past_midnight() {
        let mut p = policy();
        p.windows = vec![Window {
            name: "night".into(),
            days: vec![Day(Weekday::Wednesday)],
            start: "23:00".parse().expect("t"),
            end: "01:00".parse().expect("t"),
            timezone: Zone::utc(),
        }];
        p.buffer = crate::policy::Duration(SignedDuration::ZERO);
        assert!(at(&p, "2026-12-02T23:30:00Z").allowed());
        assert!(at(&p, "2026-12-03T00:59:00Z").allowed());
        assert!(!at(&p, "2026-12-03T01:00:00Z").allowed());
        assert!(!at(&p, "2026-12-02T22:59:00Z").allowed());
    }

    #[test]
    fn new_york_hours_follow_dst() {
        let mut p = policy();
        p.windows = vec![Window {
            name: "us-market".into(),
            days: [Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday]
                .into_iter()
                .map(Day)
                .collect(),
            start: "09:30".parse().expect("t"),
            end: "16:00".parse().expect("t"),
            timezone: Zone::named("America/New_York").expect("tz"),
        }];
        p.freezes.clear();
        p.buffer = crate::policy::Duration(SignedDuration::ZERO);
        // January (EST, UTC-5): 14:30–21:00 UTC.
        assert!(!at(&p, "2026-01-14T14:29:00Z").allowed());
        assert!(at(&p, "2026-01-14T14:30:00Z").allowed());
        assert!(at(&p, "2026-01-14T20:59:00Z").allowed());
        assert!(!at(&p, "2026-01-14T21:00:00Z").allowed());
        // July (EDT, UTC-4): 13:30–20:00 UTC.
        assert!(at(&p, "2026-07-15T13:30:00Z").allowed());
        assert!(!at(&p, "2026-07-15T20:00:00Z").allowed());
    }

    #[test]
    fn dst_gap_and_fold_days() {
        let mut p = policy();
        p.freezes.clear();
        p.buffer = crate::policy::Duration(SignedDuration::ZERO);
        // 02:30 does not exist on 2026-03-08 in New York (spring forward at 02:00):
        // the window opens at 03:00 EDT = 07:00 UTC and closes 04:00 EDT = 08:00 UTC.
        p.windows = vec![Window {
            name: "gap".into(),
            days: vec![Day(Weekday::Sunday)],
            start: "02:30".parse().expect("t"),
            end: "04:00".parse().expect("t"),
            timezone: Zone::named("America/New_York").expect("tz"),
        }];
        assert!(!at(&p, "2026-03-08T06:59:00Z").allowed());
        assert!(at(&p, "2026-03-08T07:30:00Z").allowed());
        assert!(!at(&p, "2026-03-08T08:00:00Z").allowed());
        // 01:30 happens twice on 2026-11-01 in New York; the window takes the first (EDT, 05:30 UTC)
        // and 02:00 EST (07:00 UTC) ends it: 90 minutes of wall time, 150 of real time.
        p.windows = vec![Window {
            name: "fold".into(),
            days: vec![Day(Weekday::Sunday)],
            start: "01:30".parse().expect("t"),
            end: "02:00".parse().expect("t"),
            timezone: Zone::named("America/New_York").expect("tz"),
        }];
        assert!(!at(&p, "2026-11-01T05:29:00Z").allowed());
        assert!(at(&p, "2026-11-01T05:30:00Z").allowed());
        assert!(at(&p, "2026-11-01T06:45:00Z").allowed());
        assert!(!at(&p, "2026-11-01T07:00:00Z").allowed());
        // London's spring forward (2026-03-29 01:00 GMT → 02:00 BST): a 00:30–01:30 window
        // ends in the gap, so its end moves to 02:30 BST = 01:30 UTC, and a 01:30–03:00
        // window opens at 02:30 BST = 01:30 UTC, not at 00:30 UTC.
        p.windows = vec![Window {
            name: "uk".into(),
            days: vec![Day(Weekday::Sunday)],
            start: "00:30".parse().expect("t"),
            end: "01:30".parse().expect("t"),
            timezone: Zone::named("Europe/London").expect("tz"),
        }];
        assert!(at(&p, "2026-03-29T01:29:00Z").allowed());
        assert!(!at(&p, "2026-03-29T01:30:00Z").allowed());
        p.windows[0].start = "01:30".parse().expect("t");
        p.windows[0].end = "03:00".parse().expect("t");
        assert!(!at(&p, "2026-03-29T01:29:00Z").allowed());
        assert!(at(&p, "2026-03-29T01:30:00Z").allowed());
        assert!(!at(&p, "2026-03-29T02:00:00Z").allowed());
        // Sydney's fall back (2026-04-05 03:00 AEDT → 02:00 AEST).
        p.windows = vec![Window {
            name: "syd".into(),
            days: vec![Day(Weekday::Sunday)],
            start: "01:00".parse().expect("t"),
            end: "04:00".parse().expect("t"),
            timezone: Zone::named("Australia/Sydney").expect("tz"),
        }];
        // 01:00 AEDT = 14:00 UTC Saturday; 04:00 AEST = 18:00 UTC: four real hours.
        assert!(!at(&p, "2026-04-04T13:59:00Z").allowed());
        assert!(at(&p, "2026-04-04T14:00:00Z").allowed());
        assert!(at(&p, "2026-04-04T17:59:00Z").allowed());
        assert!(!at(&p, "2026-04-04T18:00:00Z").allowed());
    }

    #[test]
    fn overlapping_windows_and_deny_wins() {
        let mut p = policy();
        p.windows.push(Window {
            name: "late".into(),
            days: vec![Day(Weekday::Tuesday)],
            start: "14:00".parse().expect("t"),
            end: "17:00".parse().expect("t"),
            timezone: Zone::utc(),
        });
        p.buffer = crate::policy::Duration(SignedDuration::ZERO);
        let a = at(&p, "2026-12-01T16:00:00Z");
        assert_eq!(a.window.as_ref().map(|w| w.name.as_str()), Some("late"));
        p.freezes.push(Freeze {
            name: "tue-pm".into(),
            start: DayTime { day: Day(Weekday::Tuesday), time: "14:30".parse().expect("t") },
            end: DayTime { day: Day(Weekday::Tuesday), time: "15:30".parse().expect("t") },
            timezone: Zone::utc(),
        });
        let a = at(&p, "2026-12-01T14:45:00Z");
        assert!(a.window.is_some() && !a.allowed());
        assert_eq!(a.next_open, Some(ts("2026-12-01T15:30:00Z")));
    }

    #[test]
    fn next_open_skips_blackouts_and_reports_none_past_the_horizon() {
        let mut p = policy();
        p.blackouts.push(Blackout {
            name: "quarter-end".into(),
            start: Instant(ts("2026-12-01T00:00:00Z")),
            end: Instant(ts("2026-12-04T00:00:00Z")),
        });
        let a = at(&p, "2026-11-30T12:00:00Z");
        assert_eq!(a.next_open, Some(ts("2026-12-08T13:00:00Z")));
        p.windows.clear();
        assert_eq!(at(&p, "2026-11-30T12:00:00Z").next_open, None);
    }

    #[test]
    fn instant_calendar_event_blocks_the_buffer() {
        let p = policy();
        // The calendar parser turns an instant event into one second.
        let cal = [Interval {
            name: "CPI print".into(),
            kind: Kind::Blackout,
            start: ts("2026-12-01T14:00:00Z"),
            end: ts("2026-12-01T14:00:01Z"),
        }];
        let a = at_with(&p, &cal, "2026-12-01T13:00:00Z");
        assert!(!a.allowed());
        assert_eq!(a.buffer_conflicts[0].name, "CPI print");
        assert_eq!(a.next_open, Some(ts("2026-12-01T14:00:01Z")));
    }
}
