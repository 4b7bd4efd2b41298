//! A small iCalendar (RFC 5545) reader for market-event calendars: every
//! VEVENT becomes a blackout. Handles folded lines, `TZID=` parameters,
//! UTC and floating times, all-day `VALUE=DATE` events, `DURATION`, and
//! `STATUS:CANCELLED`. Recurring events (`RRULE`, `RDATE`) are refused
//! rather than half-expanded: a missed occurrence would let a deploy
//! through a blackout.

use std::path::Path;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::engine::{Interval, Kind, to_instant};

/// A line of a calendar that RFC 5545 does not allow here (the one error
/// type for bad input: the gate reports it on that line).
pub type IcsError = release_gate_core::error::Located;

struct Prop {
    line: usize,
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix(' ').or_else(|| raw.strip_prefix('\t'))
            && let Some(last) = out.last_mut()
        {
            last.1.push_str(rest);
            continue;
        }
        if !raw.is_empty() {
            out.push((i + 1, raw.to_owned()));
        }
    }
    out
}

fn parse_prop(line: usize, text: &str) -> Option<Prop> {
    // The value starts after the first ':' outside a quoted parameter value.
    let mut in_quotes = false;
    let split = text.char_indices().find(|(_, c)| {
        if *c == '"' {
            in_quotes = !in_quotes;
        }
        *c == ':' && !in_quotes
    })?;
    let (head, value) = (&text[..split.0], &text[split.0 + 1..]);
    let mut parts = head.split(';');
    let name = parts.next()?.to_ascii_uppercase();
    let params = parts.filter_map(|p| p.split_once('=').map(|(k, v)| (k.to_ascii_uppercase(), v.trim_matches('"').to_owned()))).collect();
    Some(Prop { line, name, params, value: value.to_owned() })
}

/// Parses a calendar's events into blackout intervals. `default_tz` applies
/// to floating times and all-day events unless the calendar names its own
/// (`X-WR-TIMEZONE`).
pub fn parse(text: &str, path: &Path, default_tz: &TimeZone) -> Result<Vec<Interval>, IcsError> {
    let name = path.display().to_string();
    let err = |line: usize, message: String| IcsError::new(name.clone(), line as u64, message);
    let props: Vec<Prop> = unfold(text)
        .into_iter()
        .map(|(line, t)| parse_prop(line, &t).ok_or_else(|| err(line, format!("expected NAME:VALUE, found {t:?}"))))
        .collect::<Result<_, _>>()?;
    if props.first().is_none_or(|p| p.name != "BEGIN" || !p.value.eq_ignore_ascii_case("VCALENDAR")) {
        return Err(err(props.first().map_or(1, |p| p.line), "not an iCalendar file: expected BEGIN:VCALENDAR on the first line".into()));
    }
    let mut cal_tz = default_tz.clone();
    let mut events = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut current: Option<Vec<&Prop>> = None;
    let mut event_line = 0;
    for p in &props {
        match p.name.as_str() {
            "BEGIN" => {
                let comp = p.value.to_ascii_uppercase();
                if comp == "VEVENT" && stack.last().map(String::as_str) == Some("VCALENDAR") {
                    current = Some(Vec::new());
                    event_line = p.line;
                }
                stack.push(comp);
            }
            "END" => {
                let comp = p.value.to_ascii_uppercase();
                if stack.pop().as_deref() != Some(comp.as_str()) {
                    return Err(err(p.line, format!("END:{} does not close the open component", p.value)));
                }
                if comp == "VEVENT"
                    && let Some(props) = current.take()
                    && let Some(iv) = event(&props, event_line, &cal_tz, &err)?
                {
                    events.push(iv);
                }
            }
            "X-WR-TIMEZONE" if stack.len() == 1 => {
                cal_tz =
                    TimeZone::get(&p.value).map_err(|_| err(p.line, format!("unknown timezone {:?}; expected an IANA name", p.value)))?;
            }
            _ => {
                if let Some(c) = current.as_mut()
                    && stack.last().map(String::as_str) == Some("VEVENT")
                {
                    c.push(p);
                }
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(props.last().map_or(1, |p| p.line), format!("BEGIN:{open} is never closed; the file looks truncated")));
    }
    Ok(events)
}

enum When {
    Instant(Timestamp),
    Day(Date),
}

fn when(p: &Prop, cal_tz: &TimeZone, err: &dyn Fn(usize, String) -> IcsError) -> Result<When, IcsError> {
    let is_date = p.params.iter().any(|(k, v)| k == "VALUE" && v.eq_ignore_ascii_case("DATE")) || p.value.len() == 8;
    let bad = |what: &str| err(p.line, format!("{} {:?} is not a valid {what}", p.name, p.value));
    if is_date {
        let d = Date::strptime("%Y%m%d", &p.value).map_err(|_| bad("date (YYYYMMDD)"))?;
        return Ok(When::Day(d));
    }
    let (text, utc) = match p.value.strip_suffix('Z') {
        Some(t) => (t, true),
        None => (p.value.as_str(), false),
    };
    let dt = DateTime::strptime("%Y%m%dT%H%M%S", text).map_err(|_| bad("date-time (YYYYMMDDTHHMMSS)"))?;
    let tz = if utc {
        TimeZone::UTC
    } else if let Some((_, tzid)) = p.params.iter().find(|(k, _)| k == "TZID") {
        let tzid = tzid.trim_start_matches('/');
        TimeZone::get(tzid).map_err(|_| err(p.line, format!("TZID {tzid:?} is not an IANA timezone name; use e.g. America/New_York")))?
    } else {
        cal_tz.clone()
    };
    Ok(When::Instant(to_instant(&tz, dt)))
}

fn duration(p: &Prop, err: &dyn Fn(usize, String) -> IcsError) -> Result<SignedDuration, IcsError> {
    let bad = || err(p.line, format!("DURATION {:?} is not of the form P1D, PT2H30M or P1W", p.value));
    let v = p.value.strip_prefix('+').unwrap_or(&p.value);
    let v = v.strip_prefix('P').ok_or_else(bad)?;
    let mut secs: i64 = 0;
    let mut num = String::new();
    let mut in_time = false;
    for c in v.chars() {
        match c {
            '0'..='9' => num.push(c),
            'T' => in_time = true,
            'W' | 'D' | 'H' | 'M' | 'S' => {
                let n: i64 = num.parse().map_err(|_| bad())?;
                num.clear();
                secs += n * match (c, in_time) {
                    ('W', false) => 604_800,
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return Err(bad()),
                };
            }
            _ => return Err(bad()),
        }
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(SignedDuration::from_secs(secs))
}

fn event(props: &[&Prop], line: usize, cal_tz: &TimeZone, err: &dyn Fn(usize, String) -> IcsError) -> Result<Option<Interval>, IcsError> {
    let get = |n: &str| props.iter().find(|p| p.name == n).copied();
    if let Some(p) = get("RRULE").or_else(|| get("RDATE")) {
        return Err(err(p.line, format!("{} (a recurring event) is not supported; list each occurrence as its own event", p.name)));
    }
    if get("STATUS").is_some_and(|p| p.value.eq_ignore_ascii_case("CANCELLED")) {
        return Ok(None);
    }
    let name = get("SUMMARY").map_or_else(|| format!("calendar event at line {line}"), |p| unescape(&p.value));
    let start = get("DTSTART").ok_or_else(|| err(line, format!("event {name:?} has no DTSTART")))?;
    let day_start = |d: Date| to_instant(cal_tz, d.to_datetime(jiff::civil::Time::midnight()));
    let (s, e) = match when(start, cal_tz, err)? {
        When::Day(d) => {
            let end = match get("DTEND") {
                Some(p) => match when(p, cal_tz, err)? {
                    When::Day(e) => day_start(e),
                    When::Instant(t) => t,
                },
                None => match get("DURATION") {
                    Some(p) => day_start(d).checked_add(duration(p, err)?).unwrap_or(day_start(d)),
                    None => day_start(d.tomorrow().unwrap_or(d)),
                },
            };
            (day_start(d), end)
        }
        When::Instant(t) => {
            let end = match (get("DTEND"), get("DURATION")) {
                (Some(p), _) => match when(p, cal_tz, err)? {
                    When::Instant(e) => e,
                    When::Day(d) => day_start(d),
                },
                (None, Some(p)) => t.checked_add(duration(p, err)?).unwrap_or(t),
                (None, None) => t,
            };
            (t, end)
        }
    };
    if e < s {
        return Err(err(line, format!("event {name:?} ends before it starts")));
    }
    // An event that is a single instant still blocks that instant.
    let e = if e == s { s.checked_add(SignedDuration::from_secs(1)).unwrap_or(e) } else { e };
    Ok(Some(Interval { name, kind: Kind::Blackout, start: s, end: e }))
}

fn unescape(s: &str) -> String {
    s.replace("\\n", " ").replace("\\N", " ").replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    const CAL: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:FOMC rate decision\\, press conference\r\nDTSTART;TZID=America/New_York:20261216T140000\r\nDTEND;TZID=America/New_York:20261216T\r\n 160000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:2\r\nSUMMARY:Christmas\r\nDTSTART;VALUE=DATE:20261225\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:3\r\nSUMMARY:CPI\r\nDTSTART:20261210T133000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:4\r\nSUMMARY:Cancelled NFP\r\nSTATUS:CANCELLED\r\nDTSTART:20261204T133000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:5\r\nSUMMARY:Holiday week\r\nDTSTART;VALUE=DATE:20261228\r\nDTEND;VALUE=DATE:20261231\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn events_with_tzid_folding_all_day_and_duration() {
        let ny = TimeZone::get("America/New_York").expect("tz");
        let ev = parse(CAL, Path::new("m.ics"), &TimeZone::UTC).expect("parse");
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[0].name, "FOMC rate decision, press conference");
        assert_eq!((ev[0].start, ev[0].end), (ts("2026-12-16T19:00:00Z"), ts("2026-12-16T21:00:00Z")));
        assert_eq!((ev[1].start, ev[1].end), (ts("2026-12-25T00:00:00Z"), ts("2026-12-26T00:00:00Z")));
        assert_eq!((ev[2].start, ev[2].end), (ts("2026-12-10T13:30:00Z"), ts("2026-12-10T14:30:00Z")));
        assert_eq!((ev[3].start, ev[3].end), (ts("2026-12-28T00:00:00Z"), ts("2026-12-31T00:00:00Z")));
        // All-day events follow the calendar's timezone when one is configured.
        let ev = parse(CAL, Path::new("m.ics"), &ny).expect("parse");
        assert_eq!(ev[1].start, ts("2026-12-25T05:00:00Z"));
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let rrule =
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:weekly\nDTSTART:20261201T130000Z\nRRULE:FREQ=WEEKLY\nEND:VEVENT\nEND:VCALENDAR\n";
        let e = parse(rrule, Path::new("c.ics"), &TimeZone::UTC).expect_err("rrule").to_string();
        assert!(e.starts_with("c.ics:5: RRULE"), "{e}");
        let tz = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=Eastern Standard Time:20261201T130000\nEND:VEVENT\nEND:VCALENDAR\n";
        let e = parse(tz, Path::new("c.ics"), &TimeZone::UTC).expect_err("tzid").to_string();
        assert!(e.contains("c.ics:3: TZID \"Eastern Standard Time\""), "{e}");
        let trunc = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261201T130000Z\n";
        let e = parse(trunc, Path::new("c.ics"), &TimeZone::UTC).expect_err("truncated").to_string();
        assert!(e.contains("never closed"), "{e}");
        let e = parse("hello\n", Path::new("c.ics"), &TimeZone::UTC).expect_err("not ics").to_string();
        assert!(e.starts_with("c.ics:1:"), "{e}");
        let bad_date = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026-12-01\nEND:VEVENT\nEND:VCALENDAR\n";
        assert!(parse(bad_date, Path::new("c.ics"), &TimeZone::UTC).is_err());
    }
}
