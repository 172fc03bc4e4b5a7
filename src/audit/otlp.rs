//! Export of audit events to an OpenTelemetry collector over OTLP/HTTP
//! with the JSON encoding: every event becomes a log record
//! (`POST {url}/v1/logs`), every timed tool call also a span
//! (`POST {url}/v1/traces`).
//!
//! `record` only hands the event to a bounded queue (`try_send`); a
//! background thread batches what is queued and posts it with short
//! timeouts. A full queue drops the event and counts it; a failed export
//! is reported once on stderr. Nothing here can block or fail the server.
//!
//! Ids come from the record's line hash (trace id: its first 16 bytes,
//! span id: the next 8), so a span can be found from its audit record.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use reqwest::Url;
use serde_json::{Value, json};

use super::{AuditError, Event, LaunchVerdict};

/// Events queued before `record` starts dropping them.
pub const QUEUE: usize = 1024;
/// Events per POST.
const BATCH: usize = 256;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks an OTLP endpoint: an http or https URL with a host, without
/// credentials, query or fragment.
pub fn otlp_endpoint_valid(url: &str) -> Result<(), AuditError> {
    parse_endpoint(url).map(|_| ())
}

fn parse_endpoint(url: &str) -> Result<Url, AuditError> {
    let bad = |reason: &str| AuditError::OtlpEndpoint {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let u = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("only http:// and https:// endpoints are supported"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        // They would end up in error messages and logs.
        return Err(bad("credentials in the URL are not supported"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad("a query or fragment is not supported"));
    }
    Ok(u)
}

/// `{base}/v1/{signal}`, whatever the base path ends with.
fn signal_url(base: &Url, signal: &str) -> String {
    let s = base.as_str().trim_end_matches('/');
    format!("{s}/v1/{signal}")
}

/// One event on its way out.
pub(super) struct Item {
    pub time: Timestamp,
    pub seq: Option<u64>,
    pub hash: [u8; 32],
    pub event: Event,
}

enum Msg {
    Event(Box<Item>),
    Flush(SyncSender<()>),
}

pub(super) struct Exporter {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl Exporter {
    pub fn start(url: &str) -> Result<Exporter, AuditError> {
        let base = parse_endpoint(url)?;
        let (tx, rx) = sync_channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let d = dropped.clone();
        std::thread::Builder::new()
            .name("audit-otlp".into())
            .spawn(move || worker(base, rx, d))
            .map_err(|e| AuditError::OtlpEndpoint {
                url: url.to_string(),
                reason: format!("cannot start the export thread: {e}"),
            })?;
        Ok(Exporter { tx, dropped })
    }

    pub fn send(&self, item: Item) {
        match self.tx.try_send(Msg::Event(Box::new(item))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(
                        "OTLP export is behind (queue of {QUEUE} full): dropping events; the audit log still has them"
                    );
                }
            }
            // The thread is gone (it cannot start a client): nothing to do.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn flush(&self, deadline: Duration) -> bool {
        // Capped: `Instant + Duration::MAX` would overflow.
        let end = Instant::now() + deadline.min(Duration::from_secs(3600));
        let (done_tx, done_rx) = sync_channel(1);
        let mut msg = Msg::Flush(done_tx);
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(m)) => {
                    if Instant::now() >= end {
                        return false;
                    }
                    msg = m;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        let ok = done_rx
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .is_ok();
        let dropped = self.dropped();
        if dropped > 0 {
            tracing::warn!("OTLP export: {dropped} audit event(s) dropped, the queue was full");
        }
        ok
    }
}

fn worker(base: Url, rx: Receiver<Msg>, _dropped: Arc<AtomicU64>) {
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("mcp-warden/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let client = match client {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!("OTLP export disabled: cannot build an HTTP client: {e}");
            None
        }
    };
    let logs_url = signal_url(&base, "logs");
    let traces_url = signal_url(&base, "traces");
    let mut warned = false;
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                Msg::Event(i) => batch.push(i),
                Msg::Flush(f) => flushes.push(f),
            }
            if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if let (Some(c), false) = (&client, batch.is_empty()) {
            let mut result = post(c, &logs_url, &logs_document(&batch));
            let spans = traces_document(&batch);
            if result.is_ok() && spans.is_some() {
                result = post(c, &traces_url, &spans.unwrap_or_default());
            }
            if let Err(e) = result
                && !warned
            {
                warned = true;
                tracing::warn!(
                    "OTLP export to {} failed: {e}; events are still written to the audit log, further export errors are not reported",
                    base
                );
            }
        }
        for f in flushes {
            let _ = f.try_send(());
        }
    }
}

fn post(c: &reqwest::blocking::Client, url: &str, body: &Value) -> Result<(), String> {
    let resp = c
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .map_err(|e| e.without_url().to_string())?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{url}: HTTP {}", status.as_u16()))
    }
}

fn resource() -> Value {
    json!({"attributes": [
        kv("service.name", json!({"stringValue": "mcp-warden"})),
        kv("service.version", json!({"stringValue": env!("CARGO_PKG_VERSION")})),
    ]})
}

fn scope() -> Value {
    json!({"name": "mcp-warden.audit", "version": env!("CARGO_PKG_VERSION")})
}

fn kv(key: &str, value: Value) -> Value {
    json!({"key": key, "value": value})
}

/// The event's fields as OTLP attributes, `mcp_warden.` + snake_case.
fn attributes(item: &Item) -> Vec<Value> {
    let mut out = vec![kv(
        "mcp_warden.event",
        json!({"stringValue": item.event.name()}),
    )];
    if let Some(seq) = item.seq {
        out.push(kv("mcp_warden.seq", json!({"intValue": seq.to_string()})));
        out.push(kv(
            "mcp_warden.record_hash",
            json!({"stringValue": format!("sha256:{}", hex::encode(item.hash))}),
        ));
    }
    for (k, v) in item.event.fields() {
        let key = format!("mcp_warden.{}", k.replace('-', "_"));
        let value = match v {
            Value::Null => continue,
            Value::String(s) => json!({"stringValue": s}),
            Value::Number(n) => json!({"intValue": n.to_string()}),
            Value::Array(a) => json!({"arrayValue": {"values": a.iter()
                .map(|x| json!({"stringValue": x.as_str().unwrap_or_default()}))
                .collect::<Vec<_>>()}}),
            other => json!({"stringValue": other.to_string()}),
        };
        out.push(kv(&key, value));
    }
    out
}

fn nanos(t: Timestamp) -> String {
    t.as_nanosecond().max(0).to_string()
}

fn ids(item: &Item) -> (String, String) {
    (
        hex::encode(&item.hash[..16]),
        hex::encode(&item.hash[16..24]),
    )
}

/// Warn for refusals and guard findings, info otherwise.
fn severity(e: &Event) -> (u8, &'static str) {
    let warn = match e {
        Event::Launch { verdict, .. } => *verdict != LaunchVerdict::Allowed,
        Event::ToolCall {
            decision, error, ..
        } => error.is_some() || !decision.went_through(),
        Event::Guard { .. } => true,
    };
    if warn { (13, "WARN") } else { (9, "INFO") }
}

fn summary(e: &Event) -> String {
    match e {
        Event::Launch {
            server, verdict, ..
        } => format!("launch {server}: {verdict}"),
        Event::ToolCall {
            server,
            tool,
            decision,
            ..
        } => format!("tools/call {server}/{tool}: {decision}"),
        Event::Guard {
            server,
            kind,
            detail,
        } => format!("guard {server}: {kind}: {detail}"),
    }
}

fn logs_document(batch: &[Box<Item>]) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|item| {
            let (num, text) = severity(&item.event);
            let mut r = json!({
                "timeUnixNano": nanos(item.time),
                "observedTimeUnixNano": nanos(item.time),
                "severityNumber": num,
                "severityText": text,
                "body": {"stringValue": summary(&item.event)},
                "attributes": attributes(item),
            });
            if is_span(&item.event) {
                let (trace, span) = ids(item);
                r["traceId"] = json!(trace);
                r["spanId"] = json!(span);
            }
            r
        })
        .collect();
    json!({"resourceLogs": [{
        "resource": resource(),
        "scopeLogs": [{"scope": scope(), "logRecords": records}],
    }]})
}

fn is_span(e: &Event) -> bool {
    matches!(
        e,
        Event::ToolCall {
            duration_ms: Some(_),
            ..
        }
    )
}

/// `None` when the batch holds no timed tool call.
fn traces_document(batch: &[Box<Item>]) -> Option<Value> {
    let spans: Vec<Value> = batch
        .iter()
        .filter_map(|item| {
            let Event::ToolCall {
                tool,
                decision,
                duration_ms: Some(ms),
                error,
                ..
            } = &item.event
            else {
                return None;
            };
            let (trace, span) = ids(item);
            let end = item.time.as_nanosecond().max(0);
            let start = (end - i128::from(*ms) * 1_000_000).max(0);
            let failed = error.is_some() || !decision.went_through();
            let status = match (failed, error) {
                (false, _) => json!({"code": 1}),
                (true, Some(m)) => json!({"code": 2, "message": m}),
                (true, None) => json!({"code": 2, "message": decision}),
            };
            Some(json!({
                "traceId": trace,
                "spanId": span,
                "name": format!("tools/call {tool}"),
                // SPAN_KIND_CLIENT: the guard calls the server on the client's behalf.
                "kind": 3,
                "startTimeUnixNano": start.to_string(),
                "endTimeUnixNano": end.to_string(),
                "attributes": attributes(item),
                "status": status,
            }))
        })
        .collect();
    if spans.is_empty() {
        return None;
    }
    Some(json!({"resourceSpans": [{
        "resource": resource(),
        "scopeSpans": [{"scope": scope(), "spans": spans}],
    }]}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::GuardKind;

    #[test]
    fn endpoints() {
        assert!(otlp_endpoint_valid("http://127.0.0.1:4318").is_ok());
        assert!(otlp_endpoint_valid("https://otel.example/base/").is_ok());
        for bad in [
            "ftp://x",
            "file:///tmp/x",
            "http://u:p@host",
            "http://h/?q=1",
            "not a url",
            "",
        ] {
            assert!(otlp_endpoint_valid(bad).is_err(), "{bad}");
        }
        let u = parse_endpoint("http://h:1/base/").unwrap();
        assert_eq!(signal_url(&u, "logs"), "http://h:1/base/v1/logs");
        let u = parse_endpoint("http://h:1").unwrap();
        assert_eq!(signal_url(&u, "traces"), "http://h:1/v1/traces");
    }

    #[test]
    fn documents() {
        let t: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let call = Box::new(Item {
            time: t,
            seq: Some(7),
            hash: [0xab; 32],
            event: Event::ToolCall {
                server: "s".into(),
                tool: "echo".into(),
                arguments: "sha256:00".into(),
                decision: crate::audit::CallDecision::Allowed,
                duration_ms: Some(12),
                error: None,
            },
        });
        let guard = Box::new(Item {
            time: t,
            seq: None,
            hash: [1; 32],
            event: Event::Guard {
                server: "s".into(),
                kind: GuardKind::ToolChanged,
                detail: "tool echo changed".into(),
            },
        });
        let batch = vec![call, guard];
        let logs = logs_document(&batch);
        let recs = &logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"];
        assert_eq!(recs.as_array().unwrap().len(), 2);
        assert_eq!(recs[0]["timeUnixNano"], "1767323045000000000");
        assert_eq!(recs[0]["traceId"], "ab".repeat(16));
        assert_eq!(recs[1]["severityText"], "WARN");
        assert!(recs[1].get("traceId").is_none());
        let spans = traces_document(&batch).unwrap();
        let s = &spans["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["name"], "tools/call echo");
        assert_eq!(s["spanId"], "ab".repeat(8));
        assert_eq!(s["startTimeUnixNano"], "1767323044988000000");
        assert_eq!(s["status"]["code"], 1);
        assert!(traces_document(&batch[1..]).is_none());
    }
}
