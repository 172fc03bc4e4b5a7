//! One changed byte anywhere in the artifact, or anywhere in the signed
//! part of the signature file, must deny (exit 1): as an invalid
//! signature, or as a malformed one. Never exit 0, never a panic (every
//! run is checked for that by `util`).

use super::support::util::*;

/// Codes a tampered signature may be reported with: all of them deny.
const DENIALS: &[&str] = &[
    "signature-invalid",
    "signature-malformed",
    "signature-unsupported",
    "key-unknown",
    "namespace-mismatch",
];

#[derive(Clone, Copy, Debug)]
enum Scheme {
    Prehashed,
    Legacy,
    Ssh,
}

struct Case {
    env: TestEnv,
    artifact: Vec<u8>,
    sig: Vec<u8>,
    key: &'static str,
}

fn setup(scheme: Scheme) -> Case {
    let env = TestEnv::new();
    let artifact = noise(20_000, 5);
    let art = env.write("server.bin", &artifact);
    let key = match scheme {
        Scheme::Prehashed | Scheme::Legacy => {
            let k = Minisign::generate(&env, "k");
            k.sign_to(
                &art,
                &env.path("good.sig"),
                Some("release 2.0"),
                matches!(scheme, Scheme::Legacy),
            );
            "k.pub"
        }
        Scheme::Ssh => {
            let k = SshKey::generate(&env, "k");
            k.sign_to(&art, &env.path("good.sig"), "file", None);
            "k.pub"
        }
    };
    let sig = env.read("good.sig");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "good.sig",
        "--key",
        key,
    ])
    .code(0);
    Case {
        env,
        artifact,
        sig,
        key,
    }
}

/// Checks the denial and returns the code it was reported with.
fn denied(out: &Output, what: &str) -> &'static str {
    out.code(1);
    out.check(out.json()["verdict"] == "denied", what);
    DENIALS
        .iter()
        .copied()
        .find(|c| out.has_diag(c))
        .unwrap_or_else(|| out.fail(&format!("{what}: expected one of {DENIALS:?}")))
}

fn tamper_artifact(scheme: Scheme) {
    let c = setup(scheme);
    let mut variants: Vec<(String, Vec<u8>)> = spread_offsets(c.artifact.len(), 20)
        .into_iter()
        .map(|off| {
            let mut b = c.artifact.clone();
            b[off] ^= 0x01;
            (format!("bit 0 of byte {off} flipped"), b)
        })
        .collect();
    let mut longer = c.artifact.clone();
    longer.push(0);
    variants.push(("one byte appended".into(), longer));
    variants.push((
        "last byte cut".into(),
        c.artifact[..c.artifact.len() - 1].to_vec(),
    ));
    for (what, bytes) in variants {
        c.env.write("tampered.bin", &bytes);
        let out = c.env.run([
            "--format",
            "json",
            "verify",
            "tampered.bin",
            "--signature",
            "good.sig",
            "--key",
            c.key,
        ]);
        out.code(1).diag("signature-invalid");
        denied(&out, &format!("{scheme:?}, artifact: {what}"));
    }
}

/// The bytes of a signature file that the signature covers or that its
/// parser checks. Left out, by design of the formats: the free text of a
/// minisign `untrusted comment:` line (no signature covers it) and
/// trailing whitespace.
fn signed_offsets(sig: &[u8]) -> Vec<usize> {
    let end = sig.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap() + 1;
    let prefix = b"untrusted comment: ";
    let free = if sig.starts_with(prefix) {
        let eol = sig.iter().position(|&b| b == b'\n').unwrap();
        prefix.len()..eol
    } else {
        0..0
    };
    (0..end).filter(|i| !free.contains(i)).collect()
}

fn tamper_signature(scheme: Scheme) {
    let c = setup(scheme);
    let offsets = signed_offsets(&c.sig);
    let picks: Vec<usize> = spread_offsets(offsets.len(), 20)
        .into_iter()
        .map(|i| offsets[i])
        .collect();
    let mut seen: std::collections::BTreeMap<&str, usize> = Default::default();
    for off in picks {
        // A bit flip keeps most bytes printable (another base64 letter);
        // the high bit makes them binary.
        for mask in [0x01u8, 0x80] {
            let mut b = c.sig.clone();
            b[off] ^= mask;
            c.env.write("tampered.sig", &b);
            let out = c.env.run([
                "--format",
                "json",
                "verify",
                "server.bin",
                "--signature",
                "tampered.sig",
                "--key",
                c.key,
            ]);
            let code = denied(
                &out,
                &format!(
                    "{scheme:?}, signature byte {off} ({:?}) ^ {mask:#04x}",
                    char::from(c.sig[off])
                ),
            );
            *seen.entry(code).or_default() += 1;
        }
    }
    eprintln!("{scheme:?}: tampered signatures were reported as {seen:?}");
    // Not every change is caught by the parser: some parse, and must then
    // fail the cryptographic check.
    assert!(
        seen.contains_key("signature-invalid"),
        "{scheme:?}: no flip reached the signature check: {seen:?}"
    );
}

#[test]
fn minisign_prehashed_tampered_artifact() {
    tamper_artifact(Scheme::Prehashed);
}

#[test]
fn minisign_prehashed_tampered_signature() {
    tamper_signature(Scheme::Prehashed);
}

#[test]
fn minisign_legacy_tampered_artifact() {
    tamper_artifact(Scheme::Legacy);
}

#[test]
fn minisign_legacy_tampered_signature() {
    tamper_signature(Scheme::Legacy);
}

#[test]
fn ssh_tampered_artifact() {
    tamper_artifact(Scheme::Ssh);
}

#[test]
fn ssh_tampered_signature() {
    tamper_signature(Scheme::Ssh);
}

/// Every byte of a minisign trusted comment is covered by the global
/// signature: a changed comment must not verify, while the untrusted
/// comment is free text that nothing vouches for (and nothing shows).
#[test]
fn minisign_comments() {
    let c = setup(Scheme::Prehashed);
    let text = String::from_utf8(c.sig.clone()).unwrap();
    let edited = text.replace(
        "trusted comment: release 2.0",
        "trusted comment: release 2.1",
    );
    assert_ne!(edited, text);
    c.env.write("edited.sig", &edited);
    c.env
        .run([
            "verify",
            "server.bin",
            "--signature",
            "edited.sig",
            "--key",
            c.key,
        ])
        .code(1)
        .diag("signature-invalid")
        .stdout_has("the trusted comment's global signature does not verify");
    let untrusted = text.replacen("signature from minisign secret key", "anything at all", 1);
    assert_ne!(untrusted, text);
    c.env.write("untrusted.sig", &untrusted);
    c.env
        .run([
            "verify",
            "server.bin",
            "--signature",
            "untrusted.sig",
            "--key",
            c.key,
        ])
        .code(0)
        .stdout_lacks("anything at all");
}

/// A DSSE envelope whose payload was changed (another subject digest) no
/// longer verifies.
#[test]
fn dsse_tampered_payload() {
    use base64::Engine as _;
    let env = TestEnv::new();
    let bytes = noise(1_000, 8);
    env.write("server.bin", &bytes);
    let key = PemKey::generate(&env, "pem");
    let h = sha256_hex(&bytes);
    key.dsse(&env, "good.json", &[("server.bin", &h)]);
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "good.json",
        "--key",
        "pem.pub.pem",
    ])
    .code(0);

    let mut envelope: serde_json::Value = serde_json::from_slice(&env.read("good.json")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload =
        String::from_utf8(b64.decode(envelope["payload"].as_str().unwrap()).unwrap()).unwrap();
    let other = sha256_hex(b"evil");
    envelope["payload"] = b64.encode(payload.replace(&h, &other)).into();
    env.write("evil.json", serde_json::to_vec(&envelope).unwrap());
    // The artifact the forged statement names is refused, and so is the
    // original one.
    env.write("evil.bin", b"evil");
    for art in ["evil.bin", "server.bin"] {
        env.run([
            "verify",
            art,
            "--signature",
            "evil.json",
            "--key",
            "pem.pub.pem",
        ])
        .code(1)
        .diag("signature-invalid");
    }
    // A changed payload type is also covered by the signature.
    let mut envelope: serde_json::Value = serde_json::from_slice(&env.read("good.json")).unwrap();
    envelope["payloadType"] = "application/json".into();
    env.write("type.json", serde_json::to_vec(&envelope).unwrap());
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "type.json",
        "--key",
        "pem.pub.pem",
    ])
    .code(1)
    .diag("signature-invalid");
}
