//! The PagerDuty fake answers what PagerDuty's own Python client (PyPI
//! `pagerduty`) sends and expects: incidents listed through its offset
//! pagination with filters, and an Events API v2 trigger. The client is
//! installed by scripts/test in .tools/venv.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use github_fake::pagerduty::PagerDuty;

fn python() -> std::path::PathBuf {
    github_fake::support::workspace().join(".tools/venv/bin/python3")
}

#[test]
fn pagerdutys_own_client_lists_incidents_and_triggers_an_event() {
    let token = "u+fakeApiKey0123456789";
    let pd = PagerDuty::start(token).unwrap();
    for n in 1..=250 {
        let status = if n % 3 == 0 { "resolved" } else { "triggered" };
        pd.add_incident(n, status, if n % 2 == 0 { "high" } else { "low" }, Some("P2"), "PSVC001", "2026-12-01T13:45:00Z");
    }
    pd.add_incident(251, "triggered", "high", Some("P1"), "POTHER1", "2026-12-01T13:45:00Z");
    pd.add_incident(252, "triggered", "high", Some("P1"), "PSVC001", "2026-11-30T09:00:00Z");
    let script = r#"
import json, sys, pagerduty
rest_url, events_url, token = sys.argv[1:4]
# The client accepts only https:// base URLs; the fake speaks plain HTTP on
# 127.0.0.1, so its address is set past that check. Everything the client
# sends and reads is its own.
client = pagerduty.RestApiV2Client(token)
client._url = rest_url
params = {"statuses[]": ["triggered", "acknowledged"], "service_ids[]": ["PSVC001"], "since": "2026-12-01T13:30:00Z"}
found = [i["incident_number"] for i in client.iter_all("incidents", params=params)]
events = pagerduty.EventsApiV2Client("R0UT1NGKEY0123456789abcdef012345")
events._url = events_url
dedup = events.trigger("rollback of release 2.4.1 started", "release-guard", severity="critical")
print(json.dumps({"found": found, "dedup": dedup}))
"#;
    let out = Command::new(python()).args(["-c", script, &pd.rest_url(), &pd.events_url(), token]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<u64> = v["found"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    let want: Vec<u64> = (1..=250).filter(|n| n % 3 != 0).collect();
    assert_eq!(found, want, "every open incident of the service since the deploy, across pages");
    assert!(v["dedup"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(pd.problems().is_empty(), "the client sent what the description refuses: {:?}", pd.problems());
    assert!(pd.seen().iter().filter(|s| s.call == "GET /incidents").count() >= 2, "more than one page");
    let events = pd.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["payload"]["severity"], "critical");
}

#[test]
fn the_fake_refuses_what_pagerduty_refuses() {
    let pd = PagerDuty::start("right-token").unwrap();
    let get = |args: &[&str]| {
        let out = Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}"]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let url = format!("{}/incidents", pd.rest_url());
    assert_eq!(get(&[&url]), "401", "no token");
    assert_eq!(get(&["-H", "Authorization: Token token=wrong", &url]), "401");
    let auth = ["-H", "Authorization: Token token=right-token"];
    assert_eq!(get(&[auth[0], auth[1], &format!("{url}?statuses%5B%5D=open")]), "400", "a status outside the enum");
    assert_eq!(get(&[auth[0], auth[1], &format!("{url}?limit=500")]), "400", "limit over 100");
    assert_eq!(get(&[auth[0], auth[1], &format!("{url}?since=yesterday")]), "400");
    assert_eq!(get(&[auth[0], auth[1], &format!("{url}?status=triggered")]), "400", "an undocumented parameter");
    assert_eq!(get(&[auth[0], auth[1], &url]), "200");
    pd.fault("/incidents", 429, Some(1), 1);
    assert_eq!(get(&[auth[0], auth[1], &url]), "429");
    let enqueue = format!("{}/v2/enqueue", pd.events_url());
    let post = |body: &str| get(&["-X", "POST", "-H", "Content-Type: application/json", "-d", body, &enqueue]);
    assert_eq!(
        post(r#"{"routing_key":"short","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"critical"}}"#),
        "400"
    );
    assert_eq!(
        post(
            r#"{"routing_key":"R0UT1NGKEY0123456789abcdef012345","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"sev2"}}"#
        ),
        "400"
    );
    assert_eq!(post(r#"{"routing_key":"R0UT1NGKEY0123456789abcdef012345","event_action":"resolve"}"#), "400", "resolve needs a dedup_key");
    assert_eq!(
        post(
            r#"{"routing_key":"R0UT1NGKEY0123456789abcdef012345","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"critical"}}"#
        ),
        "202"
    );
}
