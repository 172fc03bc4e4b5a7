use super::*;
use crate::diag::Diagnose as _;

fn call(server: &str, tool: &str) -> Event {
    Event::ToolCall {
        server: server.into(),
        tool: tool.into(),
        arguments: "sha256:1111111111111111111111111111111111111111111111111111111111111111".into(),
        decision: CallDecision::Allowed,
        duration_ms: Some(3),
        error: None,
    }
}

fn paths(dir: &Path) -> Paths {
    let dir = dir.join("audit");
    Paths {
        log: dir.join("audit.jsonl"),
        head: dir.join("audit.head"),
        dir,
    }
}

fn lines(p: &Paths) -> Vec<String> {
    fs::read_to_string(&p.log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn record_format_is_kebab_case_in_order() {
    let t: Timestamp = "2026-03-04T05:06:07Z".parse().unwrap();
    let launch = Event::Launch {
        server: "gh".into(),
        digest: "sha256:ab".into(),
        signers: vec!["acme".into(), "b".into()],
        signed: vec![],
        policy_digest: "sha256:cd".into(),
        verdict: LaunchVerdict::Allowed,
        sandbox: "landlock abi 4".into(),
    };
    let line = format_record(0, t, GENESIS, &launch);
    assert_eq!(
        line,
        format!(
            r#"{{"seq":0,"time":"2026-03-04T05:06:07Z","prev":"{GENESIS}","event":"launch","server":"gh","digest":"sha256:ab","signers":["acme","b"],"policy-digest":"sha256:cd","verdict":"allowed","sandbox":"landlock abi 4"}}"#
        )
    );
    let mut c = call("gh", "echo");
    if let Event::ToolCall {
        duration_ms, error, ..
    } = &mut c
    {
        *duration_ms = None;
        *error = Some("tool error\nwith a newline".into());
    }
    let line = format_record(5, t, GENESIS, &c);
    assert!(!line.contains('\n'), "one line per record: {line}");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["event"], "tool-call");
    assert_eq!(v["duration-ms"], Value::Null);
    assert_eq!(v["error"], "tool error\nwith a newline");
    let g = Event::Guard {
        server: "gh".into(),
        kind: GuardKind::ToolChanged,
        detail: "d".into(),
    };
    let v: Value = serde_json::from_str(&format_record(1, t, GENESIS, &g)).unwrap();
    assert_eq!(
        (v["event"].as_str(), v["kind"].as_str()),
        (Some("guard"), Some("tool-changed"))
    );
    assert_eq!(
        line_hash(b"abc"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn chain_head_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let p = paths(tmp.path());
    let mut log = AuditLog::open_at(p.clone()).unwrap();
    for i in 0..5 {
        log.record(call("s", &format!("t{i}")));
    }
    let ls = lines(&p);
    assert_eq!(ls.len(), 5);
    let mut prev = GENESIS.to_string();
    for (i, l) in ls.iter().enumerate() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["seq"], i as u64);
        assert_eq!(v["prev"], prev.as_str());
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        prev = line_hash(l.as_bytes());
    }
    let head = fs::read_to_string(&p.head).unwrap();
    assert_eq!(head.len(), HEAD_LEN);
    let h = read_head(&p.head).unwrap().unwrap();
    assert_eq!((h.seq, &h.hash, h.mac.as_deref()), (4, &prev, None));
    assert_eq!(
        head,
        format!("v2 {:020} {prev} {} {}\n", 4, h.id, "-".repeat(64))
    );
    assert_eq!(
        verify_log(&p.log, &p.head).unwrap(),
        Verdict::Intact {
            records: 5,
            last_hash: Some(prev),
            warnings: vec![],
        }
    );
    let mode = |q: &Path| fs::metadata(q).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&p.dir), 0o700);
    assert_eq!(mode(&p.log), 0o600);
    assert_eq!(mode(&p.head), 0o600);
}

#[test]
fn two_writers_interleave_and_keep_one_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let p = paths(tmp.path());
    let mut a = AuditLog::open_at(p.clone()).unwrap();
    let mut b = AuditLog::open_at(p.clone()).unwrap();
    for i in 0..6 {
        // Each sees the other's appends through the tail, not its cache.
        if i % 3 == 0 {
            b.record(call("b", "x"));
        } else {
            a.record(call("a", "x"));
        }
    }
    assert!(matches!(
        verify_log(&p.log, &p.head).unwrap(),
        Verdict::Intact { records: 6, .. }
    ));
}

#[test]
fn threads_append_concurrently() {
    let tmp = tempfile::tempdir().unwrap();
    let p = paths(tmp.path());
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut log = AuditLog::open_at(p).unwrap();
                for i in 0..50 {
                    log.record(call(&format!("s{t}"), &format!("t{i}")));
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(matches!(
        verify_log(&p.log, &p.head).unwrap(),
        Verdict::Intact { records: 200, .. }
    ));
}

#[test]
fn continues_after_a_cut_off_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = paths(tmp.path());
    let mut log = AuditLog::open_at(p.clone()).unwrap();
    log.record(call("s", "a"));
    drop(log);
    // A crash mid-line: the next writer starts a new line, and verify
    // still names the cut one.
    let mut f = OpenOptions::new().append(true).open(&p.log).unwrap();
    f.write_all(b"{\"seq\":1,\"ti").unwrap();
    let mut log = AuditLog::open_at(p.clone()).unwrap();
    log.record(call("s", "b"));
    let ls = lines(&p);
    assert_eq!(ls.len(), 3);
    let v: Value = serde_json::from_str(&ls[2]).unwrap();
    assert_eq!(v["prev"], line_hash(ls[1].as_bytes()));
    match verify_log(&p.log, &p.head).unwrap() {
        Verdict::Broken { finding, .. } => {
            assert_eq!(finding.line, Some(2));
            assert_eq!(finding.problem, Problem::Malformed);
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn write_errors_do_not_fail_the_caller() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut p = paths(tmp.path());
    fs::create_dir_all(&p.dir).unwrap();
    p.log = PathBuf::from("/dev/full");
    let mut log = AuditLog::open_at(p).unwrap();
    log.record(call("s", "a"));
    log.record(call("s", "b"));
    assert!(log.warned, "the failure was reported");
}

#[test]
fn since() {
    let now: Timestamp = "2026-03-04T05:06:07Z".parse().unwrap();
    let at = |s| parse_since(s, now).unwrap().to_string();
    assert_eq!(at("1h"), "2026-03-04T04:06:07Z");
    assert_eq!(at("30m"), "2026-03-04T04:36:07Z");
    assert_eq!(at("2d"), "2026-03-02T05:06:07Z");
    assert_eq!(at("2026-01-01T00:00:00Z"), "2026-01-01T00:00:00Z");
    assert_eq!(at("2026-01-01T02:00:00+02:00"), "2026-01-01T00:00:00Z");
    for bad in [
        "",
        "1",
        "h",
        "1y",
        "-1h",
        "99999999999999999999d",
        "yesterday",
    ] {
        assert!(parse_since(bad, now).is_err(), "{bad}");
    }
}

/// Writes `n` records, applies `tamper` to the lines, and verifies.
fn tampered(n: usize, tamper: impl FnOnce(&mut Vec<String>)) -> Verdict {
    let tmp = tempfile::tempdir().unwrap();
    let p = paths(tmp.path());
    let mut log = AuditLog::open_at(p.clone()).unwrap();
    for i in 0..n {
        log.record(call("s", &format!("t{i}")));
    }
    let mut ls = lines(&p);
    tamper(&mut ls);
    let mut text = ls.join("\n");
    if !ls.is_empty() {
        text.push('\n');
    }
    fs::write(&p.log, text).unwrap();
    verify_log(&p.log, &p.head).unwrap()
}

#[track_caller]
fn finding(v: Verdict) -> (Option<u64>, Problem) {
    match v {
        Verdict::Broken { finding, .. } => (finding.line, finding.problem),
        v => panic!("expected a broken chain, got {v:?}"),
    }
}

#[test]
fn verify_names_the_first_bad_line() {
    assert!(matches!(
        tampered(4, |_| {}),
        Verdict::Intact { records: 4, .. }
    ));
    // The first record removed.
    assert_eq!(
        finding(tampered(4, |l| drop(l.remove(0)))),
        (Some(1), Problem::Removed)
    );
    // Several removed from the middle.
    assert_eq!(
        finding(tampered(6, |l| drop(l.drain(1..3)))),
        (Some(2), Problem::Removed)
    );
    // The last two swapped.
    assert_eq!(
        finding(tampered(5, |l| l.swap(3, 4))),
        (Some(4), Problem::Reordered)
    );
    // A record moved far back.
    assert_eq!(
        finding(tampered(6, |l| {
            let x = l.remove(1);
            l.push(x)
        })),
        (Some(2), Problem::Removed)
    );
    // The first line edited.
    assert_eq!(
        finding(tampered(3, |l| l[0] = l[0].replace("t0", "tX"))),
        (Some(1), Problem::Edited)
    );
    // A forged record appended without the head file: caught by the head.
    assert_eq!(
        finding(tampered(3, |l| {
            let prev = line_hash(l[2].as_bytes());
            l.push(format_record(3, Timestamp::now(), &prev, &call("s", "x")));
        })),
        (Some(4), Problem::Inserted)
    );
    // A copy of the last line appended: the copy is the stray line.
    assert_eq!(
        finding(tampered(3, |l| {
            let last = l[2].clone();
            l.push(last)
        })),
        (Some(4), Problem::Inserted)
    );
    // A copy of a middle line inserted after it.
    assert_eq!(
        finding(tampered(4, |l| {
            let x = l[1].clone();
            l.insert(2, x)
        })),
        (Some(3), Problem::Inserted)
    );
    // A record whose `seq` is a string.
    assert_eq!(
        finding(tampered(3, |l| l[1] = l[1].replacen("\"seq\":1", "\"seq\":\"1\"", 1))),
        (Some(2), Problem::Malformed)
    );
}

#[test]
fn extreme_seq_values_do_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let p = paths(tmp.path());
    fs::create_dir_all(&p.dir).unwrap();
    let forged = format_record(u64::MAX, Timestamp::now(), GENESIS, &call("s", "x"));
    fs::write(&p.log, format!("{forged}\n")).unwrap();
    fs::write(&p.head, format!("v1 {} {GENESIS}\n", u64::MAX)).unwrap();
    let mut log = AuditLog::open_at(p.clone()).unwrap();
    log.record(call("s", "y"));
    assert!(matches!(
        verify_log(&p.log, &p.head).unwrap(),
        Verdict::Broken { .. }
    ));
    fs::write(&p.log, b"").unwrap();
    assert!(matches!(
        verify_log(&p.log, &p.head).unwrap(),
        Verdict::Broken { .. }
    ));
}

#[test]
fn every_string_is_redacted_before_hashing_writing_and_reading_back() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    let secret = "canary-audit-7c1e s3cr3t";
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let mut log = AuditLog::open_at(p.clone()).unwrap();
    log.set_redactor(Arc::new(Redactor::from_values([secret.as_bytes()])));
    let events = [
        Event::Launch {
            server: "gh".into(),
            digest: "sha256:ab".into(),
            signers: vec![format!("signer {secret}")],
            signed: vec![],
            policy_digest: "sha256:cd".into(),
            verdict: LaunchVerdict::Allowed,
            sandbox: "landlock".into(),
        },
        Event::ToolCall {
            server: "gh".into(),
            tool: format!("tool_{}", hex::encode(secret)),
            arguments: "sha256:11".into(),
            decision: CallDecision::Allowed,
            duration_ms: Some(1),
            error: Some(format!("failed with {b64}")),
        },
        Event::Guard {
            server: "gh".into(),
            kind: GuardKind::ToolChanged,
            detail: format!("new tool {secret}"),
        },
    ];
    for e in events.clone() {
        log.record(e);
    }
    let text = fs::read_to_string(&p.log).unwrap();
    for needle in [secret, b64.as_str(), hex::encode(secret).as_str()] {
        assert!(!text.contains(needle), "{needle} in {text}");
    }
    // Round trip: the chain holds, and each record reads back as the
    // redacted form of what was recorded.
    assert!(matches!(
        verify_log(&p.log, &p.head).unwrap(),
        Verdict::Intact { records: 3, .. }
    ));
    let mut read = Vec::new();
    read_records(&p.log, |e| read.push(e)).unwrap();
    assert_eq!(read.len(), 3);
    let r = Redactor::from_values([secret.as_bytes()]);
    for (got, sent) in read.iter().zip(events) {
        let Entry::Record { value, .. } = got else {
            panic!("{got:?}")
        };
        let want = sent.redacted(&r);
        assert_eq!(value["event"], want.name());
        for (k, v) in want.fields() {
            assert_eq!(value[k], v, "{k}");
        }
    }
}

// ---------------------------------------------------------------------------
// The head's MAC and the keychain anchor.

use super::anchor::memory::Memory;

fn anchored(p: &Paths, keys: &Memory, n: usize) -> AuditLog {
    let mut log = AuditLog::open_at(p.clone())
        .unwrap()
        .with_anchor(Anchor::open(Box::new(keys.clone())).unwrap());
    for i in 0..n {
        if i == 0 {
            log.record(launch("s"));
        } else {
            log.record(call("s", &format!("t{i}")));
        }
    }
    log
}

fn launch(server: &str) -> Event {
    Event::Launch {
        server: server.into(),
        digest: "sha256:ab".into(),
        signers: vec![],
        signed: vec![],
        policy_digest: "sha256:cd".into(),
        verdict: LaunchVerdict::Allowed,
        sandbox: "off".into(),
    }
}

fn check(p: &Paths, keys: &Memory) -> Verdict {
    let view = KeychainView::read(keys).unwrap();
    verify_anchored(&p.log, &p.head, &view).unwrap()
}

#[test]
fn head_mac_binds_id_count_and_hash() {
    let k = AuditKey::from_bytes([7; 32]);
    let other = AuditKey::from_bytes([8; 32]);
    let id = "0123456789abcdef0123456789abcdef";
    let hash = format!("sha256:{}", "ab".repeat(32));
    let h = Head::new(4, &hash, id, Some(&k));
    assert_eq!(h.line().len(), HEAD_LEN);
    assert_eq!(Head::parse(&h.line()).unwrap(), h);
    assert!(h.authentic(&k));
    assert!(!h.authentic(&other));
    for changed in [
        Head {
            seq: 5,
            ..h.clone()
        },
        Head {
            id: id.replace('0', "f"),
            ..h.clone()
        },
        Head {
            hash: format!("sha256:{}", "cd".repeat(32)),
            ..h.clone()
        },
        Head {
            mac: None,
            ..h.clone()
        },
    ] {
        assert!(!changed.authentic(&k), "{changed:?}");
    }
    // HMAC-SHA256 as RFC 4231 defines it, by an independent computation.
    let msg = format!("mcp-warden audit head v2\n{id}\n5\n{hash}");
    let ipad: Vec<u8> = [7u8; 32]
        .iter()
        .chain([0u8; 32].iter())
        .map(|b| b ^ 0x36)
        .collect();
    let opad: Vec<u8> = [7u8; 32]
        .iter()
        .chain([0u8; 32].iter())
        .map(|b| b ^ 0x5c)
        .collect();
    let inner = sha2::Sha256::digest([ipad, msg.into_bytes()].concat());
    let outer = sha2::Sha256::digest([opad, inner.to_vec()].concat());
    assert_eq!(h.mac.as_deref(), Some(hex::encode(outer).as_str()));
    // Old and malformed heads.
    assert_eq!(
        Head::parse(&format!("v1 {:020} {hash}\n", 4)),
        Err(HeadError::OldFormat)
    );
    assert_eq!(Head::parse("v2 1 x y z"), Err(HeadError::Malformed));
}

#[test]
fn anchored_log_verifies_and_the_anchor_follows_launch_records() {
    let tmp = tempfile::tempdir().unwrap();
    let p = paths(tmp.path());
    let keys = Memory::default();
    let mut log = anchored(&p, &keys, 3);
    assert!(matches!(
        check(&p, &keys),
        Verdict::Intact { records: 3, .. }
    ));
    let view = KeychainView::read(&keys).unwrap();
    // The anchor is the head of the launch record (seq 0).
    let a = view.anchor.unwrap().unwrap();
    assert_eq!(a.seq, 0);
    assert!(a.authentic(view.key.as_ref().unwrap()));
    assert_eq!(log.check_anchor(), None);
    // A second launch moves it.
    log.record(launch("s"));
    let a = KeychainView::read(&keys).unwrap().anchor.unwrap().unwrap();
    assert_eq!(a.seq, 3);
    // A second log object finds the same key and identity.
    let mut again = AuditLog::open_at(p.clone())
        .unwrap()
        .with_anchor(Anchor::open(Box::new(keys.clone())).unwrap());
    again.record(call("s", "x"));
    assert!(matches!(
        check(&p, &keys),
        Verdict::Intact { records: 5, .. }
    ));
}

#[test]
fn anchored_verify_outcomes() {
    let broken = |tamper: &dyn Fn(&Paths, &Memory)| -> (Option<u64>, Problem, String) {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let keys = Memory::default();
        let mut log = anchored(&p, &keys, 3);
        log.record(launch("s")); // anchor at seq 3
        log.record(call("s", "after"));
        drop(log);
        tamper(&p, &keys);
        match check(&p, &keys) {
            Verdict::Broken { finding, .. } => (finding.line, finding.problem, finding.message),
            v => panic!("expected broken, got {v:?}"),
        }
    };
    // Both files deleted.
    let (line, problem, msg) = broken(&|p, _| {
        fs::remove_file(&p.log).unwrap();
        fs::remove_file(&p.head).unwrap();
    });
    assert_eq!((line, problem), (None, Problem::Missing));
    assert!(msg.contains("missing") && msg.contains("anchor"), "{msg}");
    // A record edited, the chain and the head recomputed without the key.
    let rewrite = |p: &Paths, edit: &dyn Fn(&mut Vec<String>), mac: bool| {
        let mut ls = lines(p);
        edit(&mut ls);
        let mut prev = GENESIS.to_string();
        let mut out = String::new();
        for (i, l) in ls.iter().enumerate() {
            let mut v: Map<String, Value> = serde_json::from_str(l).unwrap();
            v.insert("seq".into(), Value::from(i as u64));
            v.insert("prev".into(), Value::from(prev.clone()));
            let line = Value::Object(v).to_string();
            prev = line_hash(line.as_bytes());
            out.push_str(&line);
            out.push('\n');
        }
        fs::write(&p.log, out).unwrap();
        let old = read_head(&p.head).unwrap().unwrap();
        let forged_key = AuditKey::from_bytes([1; 32]);
        let head = Head::new(
            ls.len() as u64 - 1,
            &prev,
            &old.id,
            mac.then_some(&forged_key),
        );
        fs::write(&p.head, head.line()).unwrap();
    };
    let (_, problem, msg) = broken(&|p, _| rewrite(p, &|l| l[1] = l[1].replace("t1", "tX"), true));
    assert_eq!(problem, Problem::Head, "{msg}");
    assert!(msg.contains("MAC"), "{msg}");
    let (_, problem, _) = broken(&|p, _| rewrite(p, &|l| l[1] = l[1].replace("t1", "tX"), false));
    assert_eq!(problem, Problem::Head);
    // Truncated below the anchor, head recomputed: the MAC fails first.
    let (_, problem, _) = broken(&|p, _| rewrite(p, &|l| l.truncate(2), true));
    assert_eq!(problem, Problem::Head);
    // Truncated with the head left alone: the head catches it.
    let (line, problem, _) = broken(&|p, _| {
        let ls = lines(p);
        fs::write(&p.log, format!("{}\n{}\n", ls[0], ls[1])).unwrap();
    });
    assert_eq!((line, problem), (Some(2), Problem::Truncated));
    // An old head that is still authentic (a rollback of both files to
    // an earlier state): below the anchor.
    let tmp = tempfile::tempdir().unwrap();
    let p = paths(tmp.path());
    let keys = Memory::default();
    let mut log = anchored(&p, &keys, 2);
    let (old_log, old_head) = (fs::read(&p.log).unwrap(), fs::read(&p.head).unwrap());
    log.record(call("s", "x"));
    log.record(launch("s"));
    fs::write(&p.log, old_log).unwrap();
    fs::write(&p.head, old_head).unwrap();
    match check(&p, &keys) {
        Verdict::Broken { finding, .. } => {
            assert_eq!(finding.problem, Problem::Truncated, "{}", finding.message)
        }
        v => panic!("{v:?}"),
    }
    // What `run` finds when it opens the rolled-back log.
    drop(log);
    let reopened = AuditLog::open_at(p.clone())
        .unwrap()
        .with_anchor(Anchor::open(Box::new(keys.clone())).unwrap());
    let problem = reopened.check_anchor().unwrap();
    assert!(problem.contains("removed"), "{problem}");
    // A v1 head is refused, and the next record migrates it.
    let tmp = tempfile::tempdir().unwrap();
    let p = paths(tmp.path());
    let mut log = AuditLog::open_at(p.clone()).unwrap();
    log.record(call("s", "a"));
    let h = read_head(&p.head).unwrap().unwrap();
    fs::write(&p.head, format!("v1 {:020} {}\n", h.seq, h.hash)).unwrap();
    let keys = Memory::default();
    match check(&p, &keys) {
        Verdict::Broken { finding, .. } => {
            assert_eq!(finding.problem, Problem::Head);
            assert!(finding.message.contains("v1"), "{}", finding.message);
        }
        v => panic!("{v:?}"),
    }
    drop(log);
    let mut log = AuditLog::open_at(p.clone())
        .unwrap()
        .with_anchor(Anchor::open(Box::new(keys.clone())).unwrap());
    assert_eq!(log.check_anchor(), None);
    log.record(launch("s"));
    assert!(matches!(
        check(&p, &keys),
        Verdict::Intact { records: 2, .. }
    ));
    // The key gone from the keychain: the authenticated head is reported.
    keys.0.lock().unwrap().clear();
    match check(&p, &keys) {
        Verdict::Broken { finding, .. } => assert_eq!(finding.problem, Problem::Head),
        v => panic!("{v:?}"),
    }
}

#[test]
fn run_records_a_head_rewritten_without_the_key_before_it_authenticates_again() {
    // Each way of forging the head that `run` must not launder by
    // authenticating the next record.
    type Forge<'a> = &'a dyn Fn(&Head) -> String;
    let cases: [(&str, Forge); 3] = [
        ("no MAC", &|h| {
            Head {
                mac: None,
                ..h.clone()
            }
            .line()
        }),
        ("v1", &|h| format!("v1 {:020} {}\n", h.seq, h.hash)),
        ("another key's MAC", &|h| {
            Head::new(h.seq, &h.hash, &h.id, Some(&AuditKey::from_bytes([9; 32]))).line()
        }),
    ];
    for (what, forge) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let keys = Memory::default();
        drop(anchored(&p, &keys, 2));
        let h = read_head(&p.head).unwrap().unwrap();
        fs::write(&p.head, forge(&h)).unwrap();
        let log = AuditLog::open_at(p.clone())
            .unwrap()
            .with_anchor(Anchor::open(Box::new(keys.clone())).unwrap());
        let problem = log.check_anchor();
        assert!(problem.is_some(), "{what}: not noticed");
        // `run` writes it down; verify then warns about that line.
        let mut log = log;
        log.record(Event::Guard {
            server: "s".into(),
            kind: GuardKind::AuditAnchor,
            detail: problem.unwrap(),
        });
        log.record(launch("s"));
        match check(&p, &keys) {
            Verdict::Intact { warnings, .. } => {
                assert_eq!(warnings.len(), 1, "{what}");
                assert_eq!(warnings[0].line, Some(3), "{what}");
            }
            v => panic!("{what}: {v:?}"),
        }
    }
}

#[test]
fn run_notices_records_cut_off_the_end_with_the_head_left_alone() {
    for keep in [0usize, 2] {
        let tmp = tempfile::tempdir().unwrap();
        let p = paths(tmp.path());
        let keys = Memory::default();
        drop(anchored(&p, &keys, 4));
        let ls = lines(&p);
        let text: String = ls[..keep].iter().map(|l| format!("{l}\n")).collect();
        fs::write(&p.log, text).unwrap();
        let log = AuditLog::open_at(p.clone())
            .unwrap()
            .with_keychain(Box::new(keys.clone()))
            .unwrap();
        let problem = log.check_anchor().unwrap_or_default();
        assert!(
            problem.contains(&format!("holds {keep} records but its head records 4")),
            "{keep}: {problem}"
        );
    }
}

/// Writes that fail (a full disk) leave no record cut off, say so to the
/// caller of `try_record`, and are accounted for in an `audit-gap` record
/// once writing works again; the chain stays whole throughout.
#[test]
fn failed_writes_leave_the_log_whole_and_are_reported_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    let mut log = AuditLog::open_at(p.clone()).unwrap();
    log.try_record(call("gh", "one")).unwrap();
    let before = fs::read(&p.log).unwrap();
    // A descriptor that cannot write stands in for a full disk.
    let writable = std::mem::replace(&mut log.log, File::open(&p.log).unwrap());
    let e = log.try_record(call("gh", "lost")).unwrap_err();
    assert!(matches!(e, AuditError::Write { .. }), "{e:?}");
    assert_eq!(e.code(), crate::diag::Code::AuditUnavailable);
    log.record(call("gh", "lost too"));
    assert_eq!(fs::read(&p.log).unwrap(), before);
    log.log = writable;
    log.try_record(call("gh", "three")).unwrap();
    let v: Vec<Value> = (lines(&p).iter())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 3, "{v:?}");
    assert_eq!(
        (v[1]["event"].as_str(), v[1]["kind"].as_str()),
        (Some("guard"), Some("audit-gap"))
    );
    assert!(
        v[1]["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 earlier audit event(s)"),
        "{v:?}"
    );
    assert_eq!(v[2]["tool"], "three");
    assert!(
        matches!(
            verify_log(&p.log, &p.head).unwrap(),
            Verdict::Intact { records: 3, .. }
        ),
        "the chain broke"
    );
}

#[test]
fn errors_report_their_codes() {
    use crate::diag::{Code, Diagnose};
    let e = AuditError::Since {
        value: "x".into(),
        reason: "bad".into(),
    };
    assert_eq!(Diagnose::code(&e), Code::Usage);
    assert_eq!(Diagnose::hint(&e), e.hint());
}
