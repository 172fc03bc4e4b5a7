//! `.mcpb` bundles: a PKI made here with the real `openssl` (root,
//! intermediate, code-signing leaf; RSA and EC), bundles built with the
//! `zip` crate and signed with `openssl cms` in each of the three byte
//! layouts that mcpb's signing methods produce; then tampered, truncated,
//! oversized, malformed, foreign-CA, expired and out-of-scope cases, the
//! manifest reader, and `trust add-ca` through the binary.

use mcp_warden::diag::Diagnose as _;
use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use mcp_warden::mcpb::{self, CommentVariant, McpbError};
use mcp_warden::trust::{Scopes, TrustStore, TrustedCa};

use super::support::util::*;

const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_leaf_nosign]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyEncipherment
[ca]
default_ca = ca_default
[ca_default]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
organizationName = optional
";

#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Alg {
    /// RSA 2048, signed with SHA-256.
    Rsa,
    /// RSA 2048, SHA-512.
    Rsa512,
    /// P-256, SHA-256.
    Ec,
    /// P-384, SHA-384.
    Ec384,
}

/// A root, an intermediate and a leaf, as files in `dir`.
pub(super) struct Pki {
    dir: PathBuf,
    prefix: String,
    md: &'static str,
}

impl Pki {
    pub(super) fn new(env: &TestEnv, prefix: &str, alg: Alg) -> Pki {
        let dir = env.work.clone();
        fs::write(dir.join("openssl.cnf"), OPENSSL_CNF).unwrap();
        let md = match alg {
            Alg::Rsa | Alg::Ec => "sha256",
            Alg::Rsa512 => "sha512",
            Alg::Ec384 => "sha384",
        };
        let p = Pki {
            dir,
            prefix: prefix.to_string(),
            md,
        };
        for k in ["root", "inter", "leaf"] {
            p.genkey(k, alg);
        }
        p.ossl(&[
            "req",
            "-config",
            "openssl.cnf",
            "-new",
            "-x509",
            "-key",
            &p.f("root.key"),
            "-subj",
            &format!("/CN={prefix} Root/O=Test"),
            "-days",
            "3650",
            "-extensions",
            "v3_ca",
            "-out",
            &p.f("root.pem"),
        ]);
        p.issue(
            "inter",
            "root",
            &format!("/CN={prefix} Intermediate/O=Test"),
            "v3_inter",
            "3650",
        );
        p.issue(
            "leaf",
            "inter",
            &format!("/CN={prefix} Publisher/O=Acme Tools"),
            "v3_leaf",
            "30",
        );
        p
    }

    fn f(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    pub(super) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(self.f(name))
    }

    pub(super) fn ossl(&self, args: &[&str]) -> Vec<u8> {
        tool(&self.dir, "openssl", args)
    }

    fn genkey(&self, name: &str, alg: Alg) {
        let key = self.f(&format!("{name}.key"));
        let opt = match alg {
            Alg::Rsa | Alg::Rsa512 => ["RSA", "rsa_keygen_bits:2048"],
            Alg::Ec => ["EC", "ec_paramgen_curve:P-256"],
            Alg::Ec384 => ["EC", "ec_paramgen_curve:P-384"],
        };
        self.ossl(&[
            "genpkey",
            "-algorithm",
            opt[0],
            "-pkeyopt",
            opt[1],
            "-out",
            &key,
        ]);
    }

    /// `name`.pem for `name`.key, signed by `issuer`.
    fn issue(&self, name: &str, issuer: &str, subj: &str, ext: &str, days: &str) {
        let csr = self.f(&format!("{name}.csr"));
        self.ossl(&[
            "req",
            "-config",
            "openssl.cnf",
            "-new",
            "-key",
            &self.f(&format!("{name}.key")),
            "-subj",
            subj,
            "-out",
            &csr,
        ]);
        self.ossl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &self.f(&format!("{issuer}.pem")),
            "-CAkey",
            &self.f(&format!("{issuer}.key")),
            "-set_serial",
            "4242",
            "-days",
            days,
            "-extfile",
            "openssl.cnf",
            "-extensions",
            ext,
            "-out",
            &self.f(&format!("{name}.pem")),
        ]);
    }

    /// `name`.pem valid only from `start` to `end` (YYYYMMDDHHMMSSZ), by
    /// `openssl ca` (the one openssl 3.0 command that sets both dates);
    /// `issuer` == `name` makes a self-signed root.
    fn issue_dated(&self, name: &str, issuer: &str, subj: &str, ext: &str, start: &str, end: &str) {
        fs::write(self.dir.join("index.txt"), "").unwrap();
        fs::write(self.dir.join("serial"), "1000\n").unwrap();
        let csr = self.f(&format!("{name}.csr"));
        self.ossl(&[
            "req",
            "-config",
            "openssl.cnf",
            "-new",
            "-key",
            &self.f(&format!("{name}.key")),
            "-subj",
            subj,
            "-out",
            &csr,
        ]);
        let mut args = vec![
            "ca",
            "-batch",
            "-config",
            "openssl.cnf",
            "-notext",
            "-in",
            &csr,
            "-startdate",
            start,
            "-enddate",
            end,
            "-extensions",
            ext,
        ];
        let issuer_pem = self.f(&format!("{issuer}.pem"));
        let issuer_key = self.f(&format!("{issuer}.key"));
        if issuer == name {
            args.push("-selfsign");
        } else {
            args.extend(["-cert", &issuer_pem]);
        }
        let out = self.f(&format!("{name}.pem"));
        args.extend(["-keyfile", &issuer_key, "-out", &out]);
        self.ossl(&args);
    }

    /// Detached CMS over `content`, as `mcpb sign` and external signers
    /// produce it: DER, SHA-256, signer and intermediate certificates.
    pub(super) fn sign(&self, content: &[u8], leaf: &str) -> Vec<u8> {
        let input = self.dir.join("to-sign.bin");
        fs::write(&input, content).unwrap();
        self.ossl(&[
            "cms",
            "-sign",
            "-binary",
            "-in",
            "to-sign.bin",
            "-signer",
            &self.f(&format!("{leaf}.pem")),
            "-inkey",
            &self.f(&format!("{leaf}.key")),
            "-certfile",
            &self.f("inter.pem"),
            "-md",
            self.md,
            "-nosmimecap",
            "-outform",
            "DER",
            "-out",
            "sig.der",
        ]);
        fs::read(self.dir.join("sig.der")).unwrap()
    }

    pub(super) fn root(&self, name: &str, scopes: &[&str]) -> TrustedCa {
        let pem = fs::read(self.path("root.pem")).unwrap();
        let der = mcp_warden::x509::certificate_der(&pem).unwrap();
        TrustedCa {
            name: name.to_string(),
            scopes: Scopes::new(&scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap(),
            fingerprint: mcp_warden::x509::fingerprint(&der),
            subject: mcp_warden::x509::certificate_subject(&der).unwrap(),
            cert_der: der,
            origin: mcp_warden::trust::Origin::User,
            file: PathBuf::new(),
        }
    }
}

/// A small bundle: manifest.json and a server file.
pub(super) fn bundle_zip(manifest: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("manifest.json", opts).unwrap();
    w.write_all(manifest).unwrap();
    w.start_file("server/index.js", opts).unwrap();
    w.write_all(
        b"console.log('hello from the server');\n"
            .repeat(50)
            .as_slice(),
    )
    .unwrap();
    w.finish().unwrap().into_inner()
}

pub(super) const MANIFEST: &[u8] = br#"{"manifest_version":"0.3","name":"acme-files","version":"1.2.3",
 "display_name":"Acme Files","author":{"name":"Acme"},
 "server":{"type":"node","entry_point":"server/index.js",
   "mcp_config":{"command":"node","args":["${__dirname}/server/index.js"],"env":{"ROOT":"${user_config.root}"}}},
 "user_config":{"root":{"type":"directory","title":"Root","required":true}}}"#;

pub(super) fn eocd(z: &[u8]) -> usize {
    z.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap()
}

pub(super) fn sig_block(der: &[u8], pad_to: Option<usize>) -> Vec<u8> {
    let mut b = b"MCPB_SIG_V1".to_vec();
    b.extend_from_slice(&(der.len() as u32).to_le_bytes());
    b.extend_from_slice(der);
    if let Some(p) = pad_to {
        b.resize(p - 12, 0);
    }
    b.extend_from_slice(b"MCPB_SIG_END");
    b
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Layout {
    /// mcpb sign before mcpb#204.
    Unchanged,
    /// mcpb sign since mcpb#204: comment length raised after signing.
    Covering,
    /// mcpb prepare-for-signing / apply-signature (16384-byte block).
    Prepared,
}

/// Signs `zip` the way the given mcpb method lays the bytes out.
pub(super) fn signed_bundle(pki: &Pki, zip: &[u8], layout: Layout, leaf: &str) -> Vec<u8> {
    signed_bundle_with(pki, zip, layout, leaf, &|der| der)
}

/// [`signed_bundle`], with the DER passed through `edit` after signing.
pub(super) fn signed_bundle_with(
    pki: &Pki,
    zip: &[u8],
    layout: Layout,
    leaf: &str,
    edit: &dyn Fn(Vec<u8>) -> Vec<u8>,
) -> Vec<u8> {
    let e = eocd(zip);
    match layout {
        Layout::Unchanged => {
            let mut out = zip.to_vec();
            out.extend(sig_block(&edit(pki.sign(zip, leaf)), None));
            out
        }
        Layout::Covering => {
            let block = sig_block(&edit(pki.sign(zip, leaf)), None);
            let mut out = zip.to_vec();
            let c = u16::from_le_bytes([out[e + 20], out[e + 21]]);
            out[e + 20..e + 22].copy_from_slice(&(c + block.len() as u16).to_le_bytes());
            out.extend(block);
            out
        }
        Layout::Prepared => {
            let mut prepared = zip.to_vec();
            prepared[e + 20..e + 22].copy_from_slice(&16384u16.to_le_bytes());
            let block = sig_block(&edit(pki.sign(&prepared, leaf)), Some(16384));
            prepared.extend(block);
            prepared
        }
    }
}

fn write(env: &TestEnv, name: &str, bytes: &[u8]) -> PathBuf {
    env.write(name, bytes)
}

fn now() -> SystemTime {
    SystemTime::now()
}

#[test]
fn valid_bundles_in_each_layout_rsa_and_ec() {
    for alg in [Alg::Rsa, Alg::Rsa512, Alg::Ec, Alg::Ec384] {
        let env = TestEnv::new();
        let pki = Pki::new(&env, "t", alg);
        let roots = [pki.root("acme-ca", &["acme-*"])];
        let zip = bundle_zip(MANIFEST);
        for layout in [Layout::Unchanged, Layout::Covering, Layout::Prepared] {
            let path = write(&env, "b.mcpb", &signed_bundle(&pki, &zip, layout, "leaf"));
            let block = mcpb::find_signature(&path).unwrap().expect("a block");
            match layout {
                Layout::Unchanged => assert_eq!(block.variant, CommentVariant::Unchanged),
                Layout::Covering => {
                    assert!(matches!(block.variant, CommentVariant::Covering { .. }))
                }
                Layout::Prepared => assert_eq!(block.variant, CommentVariant::Prepared),
            }
            let p = mcpb::verify(&path, &roots, now())
                .unwrap_or_else(|e| panic!("{alg:?} {layout:?}: {e} ({:?})", e.hint()));
            assert_eq!(p.ca_name, "acme-ca");
            assert_eq!(p.common_name.as_deref(), Some("t Publisher"));
            assert_eq!(p.organization.as_deref(), Some("Acme Tools"));
            // The fingerprint is the one openssl prints for the leaf.
            let out = pki.ossl(&[
                "x509",
                "-in",
                &pki.f("leaf.pem"),
                "-noout",
                "-fingerprint",
                "-sha256",
            ]);
            let want = String::from_utf8(out).unwrap();
            let want = want
                .trim()
                .rsplit('=')
                .next()
                .unwrap()
                .replace(':', "")
                .to_lowercase();
            assert_eq!(p.fingerprint, format!("sha256:{want}"));
            // Every layout is still a zip whose manifest reads.
            let m = mcpb::read_manifest(&path).unwrap_or_else(|e| panic!("{layout:?}: {e}"));
            assert_eq!(m.name, "acme-files");
        }
    }
}

#[test]
fn a_layout_mixup_is_refused() {
    // Signed as "unchanged" but with the comment length raised the way
    // "covering" does before signing: the signed bytes are not what a
    // verifier that restores the length would hash.
    let env = TestEnv::new();
    // RSA: signatures of one size, so both blocks have the same length.
    let pki = Pki::new(&env, "t", Alg::Rsa);
    let roots = [pki.root("acme-ca", &["*"])];
    let zip = bundle_zip(MANIFEST);
    let good = signed_bundle(&pki, &zip, Layout::Covering, "leaf");
    let e = eocd(&good);
    let mut raised = zip.clone();
    raised[e + 20..e + 22].copy_from_slice(&good[e + 20..e + 22]);
    let mut bad = raised.clone();
    bad.extend(sig_block(&pki.sign(&raised, "leaf"), None));
    assert_eq!(bad.len(), good.len());
    let path = write(&env, "b.mcpb", &bad);
    let e = mcpb::verify(&path, &roots, now()).unwrap_err();
    assert!(matches!(e, McpbError::DigestMismatch { .. }), "{e}");
}

#[test]
fn tampered_truncated_and_malformed_bundles_are_refused() {
    let env = TestEnv::new();
    let pki = Pki::new(&env, "t", Alg::Rsa);
    let roots = [pki.root("acme-ca", &["*"])];
    let zip = bundle_zip(MANIFEST);
    for layout in [Layout::Unchanged, Layout::Covering, Layout::Prepared] {
        let good = signed_bundle(&pki, &zip, layout, "leaf");
        let check = |bytes: &[u8], what: &str, ok: &dyn Fn(&McpbError) -> bool| {
            let path = write(&env, "bad.mcpb", bytes);
            match mcpb::verify(&path, &roots, now()) {
                Ok(_) => panic!("{layout:?} {what}: verified"),
                Err(e) => {
                    assert!(ok(&e), "{layout:?} {what}: unexpected error {e}");
                    assert!(e.hint().is_some(), "{what}: a hint");
                }
            }
        };
        // A byte of the server file changed.
        let mut t = good.clone();
        t[zip.len() / 3] ^= 1;
        check(&t, "tampered content", &|e| {
            matches!(e, McpbError::DigestMismatch { .. })
        });
        // A byte of the EOCD comment length changed.
        let mut t = good.clone();
        let e = eocd(&zip);
        t[e + 20] ^= 0x40;
        check(&t, "tampered comment length", &|e| {
            matches!(
                e,
                McpbError::DigestMismatch { .. } | McpbError::MalformedBlock(_)
            )
        });
        // Cut short inside the block.
        check(&good[..good.len() - 40], "truncated", &|e| {
            matches!(e, McpbError::MalformedBlock(_))
        });
        // A length field one too large.
        let mut t = good.clone();
        let h = zip.len() + 11;
        let n = u32::from_le_bytes(t[h..h + 4].try_into().unwrap()) + 1;
        t[h..h + 4].copy_from_slice(&n.to_le_bytes());
        // (In the padded layout one more byte is a zero of the padding,
        // which leaves trailing bytes after the DER.)
        check(&t, "wrong length", &|e| {
            matches!(e, McpbError::MalformedBlock(_) | McpbError::MalformedCms(_))
        });
        // An absurd length field.
        let mut t = good.clone();
        t[h..h + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        check(
            &t,
            "oversized length",
            &|e| matches!(e, McpbError::MalformedBlock(m) if m.contains("limit")),
        );
        // A flipped byte inside the DER.
        let mut t = good.clone();
        t[h + 4 + 1] ^= 0xff;
        check(&t, "malformed DER", &|e| {
            matches!(e, McpbError::MalformedCms(_))
        });
        // A flipped byte in the signature value (the last bytes of the DER).
        let mut t = good.clone();
        let der_end = h + 4 + (n as usize - 1);
        t[der_end - 2] ^= 1;
        check(&t, "bad signature", &|e| {
            matches!(e, McpbError::BadSignature(_))
        });
    }
}

#[test]
fn garbage_der_is_malformed_cms() {
    let env = TestEnv::new();
    let mut b = bundle_zip(MANIFEST);
    b.extend(sig_block(b"\x30\x03\x02\x01\x01", None));
    let path = write(&env, "b.mcpb", &b);
    assert!(matches!(
        mcpb::verify(&path, &[], now()),
        Err(McpbError::MalformedCms(_))
    ));
}

#[test]
fn unsigned_bundle_has_no_block() {
    let env = TestEnv::new();
    let path = write(&env, "u.mcpb", &bundle_zip(MANIFEST));
    assert!(mcpb::find_signature(&path).unwrap().is_none());
    assert!(matches!(
        mcpb::verify(&path, &[], now()),
        Err(McpbError::NoSignature)
    ));
    assert_eq!(
        mcpb::read_manifest(&path).unwrap().version.as_deref(),
        Some("1.2.3")
    );
}

#[test]
fn foreign_ca_expired_leaf_and_wrong_key_usage() {
    let env = TestEnv::new();
    let pki = Pki::new(&env, "t", Alg::Rsa);
    let other = Pki::new(&env, "o", Alg::Rsa);
    let zip = bundle_zip(MANIFEST);
    let path = write(
        &env,
        "b.mcpb",
        &signed_bundle(&other, &zip, Layout::Covering, "leaf"),
    );
    // Signed under a CA that is not pinned.
    let e = mcpb::verify(&path, &[pki.root("acme-ca", &["*"])], now()).unwrap_err();
    assert!(matches!(e, McpbError::UntrustedChain(_)), "{e}");
    assert!(e.hint().unwrap().contains("trust add-ca"));
    // No CA at all.
    assert!(matches!(
        mcpb::verify(&path, &[], now()),
        Err(McpbError::UntrustedChain(_))
    ));
    // The leaf lives 30 days: checked 31 days from now it has expired
    // (the signingTime attribute inside, which says "now", is not trusted).
    let roots = [other.root("other-ca", &["*"])];
    mcpb::verify(&path, &roots, now()).unwrap();
    let later = now() + Duration::from_secs(31 * 86400);
    let e = mcpb::verify(&path, &roots, later).unwrap_err();
    assert!(
        matches!(&e, McpbError::CertificateTime { subject, problem } if subject.contains("o Publisher") && problem.contains("expired")),
        "{e}"
    );
    let e = mcpb::verify(&path, &roots, now() - Duration::from_secs(86400)).unwrap_err();
    assert!(
        matches!(&e, McpbError::CertificateTime { problem, .. } if problem.contains("not valid yet")),
        "{e}"
    );
    // A leaf whose validity ended in 2021, issued by openssl with those dates.
    fs::copy(other.path("leaf.key"), other.path("old.key")).unwrap();
    other.issue_dated(
        "old",
        "inter",
        "/CN=o Old Publisher",
        "v3_leaf",
        "20200101000000Z",
        "20210101000000Z",
    );
    let old = write(
        &env,
        "old.mcpb",
        &signed_bundle(&other, &zip, Layout::Prepared, "old"),
    );
    let e = mcpb::verify(&old, &roots, now()).unwrap_err();
    assert!(
        matches!(&e, McpbError::CertificateTime { subject, problem } if subject.contains("Old Publisher") && problem.contains("expired")),
        "{e}"
    );
    // A leaf without digitalSignature.
    fs::copy(other.path("leaf.key"), other.path("nosign.key")).unwrap();
    other.issue(
        "nosign",
        "inter",
        "/CN=o Key Encipherment",
        "v3_leaf_nosign",
        "30",
    );
    let path = write(
        &env,
        "n.mcpb",
        &signed_bundle(&other, &zip, Layout::Unchanged, "nosign"),
    );
    let e = mcpb::verify(&path, &roots, now()).unwrap_err();
    assert!(
        matches!(&e, McpbError::BadCertificate { problem, .. } if problem.contains("digitalSignature")),
        "{e}"
    );
}

#[test]
fn ca_out_of_scope_for_the_server() {
    let env = TestEnv::new();
    let pki = Pki::new(&env, "t", Alg::Ec);
    let zip = bundle_zip(MANIFEST);
    let path = write(
        &env,
        "b.mcpb",
        &signed_bundle(&pki, &zip, Layout::Prepared, "leaf"),
    );
    let store = TrustStore {
        cas: vec![pki.root("acme-ca", &["acme-*"])],
        ..Default::default()
    };
    let p = mcpb::verify_for_server(&path, &store, "acme-files", now()).unwrap();
    assert_eq!(p.ca_name, "acme-ca");
    let e = mcpb::verify_for_server(&path, &store, "evil-files", now()).unwrap_err();
    assert!(
        matches!(&e, McpbError::OutOfScope { ca, server } if ca == "acme-ca" && server == "evil-files"),
        "{e}"
    );
}

#[test]
fn manifest_missing_too_big_not_json_and_unsafe_names() {
    let env = TestEnv::new();
    let zip_of = |entries: &[(&str, &[u8])]| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    let read = |bytes: Vec<u8>| {
        let p = write(&env, "m.mcpb", &bytes);
        mcpb::read_manifest(&p)
    };
    assert!(matches!(
        read(zip_of(&[("server/index.js", b"x")])),
        Err(McpbError::ManifestMissing)
    ));
    assert!(matches!(
        read(zip_of(&[("sub/manifest.json", MANIFEST)])),
        Err(McpbError::ManifestMissing)
    ));
    let big = format!("{{\"name\":\"x\",\"pad\":\"{}\"}}", "a".repeat(1024 * 1024));
    assert!(matches!(
        read(zip_of(&[("manifest.json", big.as_bytes())])),
        Err(McpbError::ManifestTooLarge)
    ));
    assert!(matches!(
        read(zip_of(&[("manifest.json", b"not json {")])),
        Err(McpbError::ManifestInvalid(_))
    ));
    assert!(matches!(
        read(zip_of(&[("manifest.json", MANIFEST), ("../evil", b"x")])),
        Err(McpbError::UnsafeEntry(_))
    ));
    assert!(matches!(
        read(b"not a zip at all".to_vec()),
        Err(McpbError::Zip(_))
    ));
    let m = read(zip_of(&[("manifest.json", MANIFEST)])).unwrap();
    assert_eq!(m.server_type.as_deref(), Some("node"));
    assert_eq!(m.entry_point.as_deref(), Some("server/index.js"));
    assert_eq!(m.mcp_config.unwrap().command, "node");
    assert!(m.user_config["root"].required);
}

// ------------------------------------------------------------ trust add-ca

#[test]
fn add_ca_list_remove() {
    let env = TestEnv::new();
    let pki = Pki::new(&env, "t", Alg::Rsa);
    let root = pki.f("root.pem");
    let out = env.run(["trust", "add-ca", &root, "--name", "acme-ca"]);
    out.code(2).diag("trust-input").stderr_has("--scope");
    assert!(!env.trust_file().exists());

    let out = env.run([
        "--format", "json", "trust", "add-ca", &root, "--name", "acme-ca", "--scope", "acme-*",
    ]);
    out.code(0);
    let v = out.json();
    out.check(v["status"] == "added", "added").check(
        v["fingerprint"].as_str().unwrap().starts_with("sha256:"),
        "fingerprint",
    );

    let out = env.run(["--format", "json", "trust", "list"]);
    out.code(0);
    let list = out.json();
    let ca = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "acme-ca")
        .unwrap_or_else(|| out.fail("the CA is listed"));
    out.check(ca["kind"] == "ca", "kind ca")
        .check(
            ca["subject"].as_str().unwrap().contains("CN=t Root"),
            "subject",
        )
        .check(ca["scopes"][0] == "acme-*", "scopes");

    // The stored CA verifies a bundle through the store.
    let ctx = mcp_warden::context::Context::new(Some(&env.home), None, Some(&env.system)).unwrap();
    let store = TrustStore::load(&ctx).unwrap();
    let zip = bundle_zip(MANIFEST);
    let path = write(
        &env,
        "b.mcpb",
        &signed_bundle(&pki, &zip, Layout::Unchanged, "leaf"),
    );
    assert_eq!(
        mcpb::verify_for_server(&path, &store, "acme-x", now())
            .unwrap()
            .ca_name,
        "acme-ca"
    );

    // The same certificate again: unchanged. Another under the same name: refused.
    let out = env.run([
        "--format", "json", "trust", "add-ca", &root, "--name", "again", "--scope", "*",
    ]);
    out.code(0);
    out.check(out.json()["status"] == "unchanged", "unchanged");
    let other = Pki::new(&env, "o", Alg::Ec);
    let before = fs::read(env.trust_file()).unwrap();
    env.run([
        "trust",
        "add-ca",
        &other.f("root.pem"),
        "--name",
        "acme-ca",
        "--scope",
        "*",
    ])
    .code(2)
    .diag("trust-input")
    .stderr_has("exists already");
    assert_eq!(
        fs::read(env.trust_file()).unwrap(),
        before,
        "file untouched"
    );

    let out = env.run(["trust", "list"]);
    out.code(0).stdout_has("acme-ca  ca sha256:");
    env.run(["trust", "remove", "acme-ca"]).code(0);
    let out = env.run(["--format", "json", "trust", "list"]);
    out.check(
        !out.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "acme-ca"),
        "removed",
    );
}

#[test]
fn add_ca_warns_about_an_expired_root() {
    let env = TestEnv::new();
    let pki = Pki::new(&env, "t", Alg::Ec);
    pki.issue_dated(
        "root",
        "root",
        "/CN=t Old Root",
        "v3_ca",
        "20200101000000Z",
        "20210101000000Z",
    );
    let out = env.run([
        "--format",
        "json",
        "trust",
        "add-ca",
        &pki.f("root.pem"),
        "--name",
        "old",
        "--scope",
        "*",
    ]);
    out.code(0).stderr_has("warning: the certificate expired");
    out.check(
        out.json()["warning"].as_str().unwrap().contains("expired"),
        "warning in JSON",
    );
    // Pinned, but nothing chains to it while it is expired.
    let ctx = mcp_warden::context::Context::new(Some(&env.home), None, Some(&env.system)).unwrap();
    let store = TrustStore::load(&ctx).unwrap();
    pki.issue("inter", "root", "/CN=t Intermediate", "v3_inter", "3650");
    pki.issue("leaf", "inter", "/CN=t Publisher", "v3_leaf", "30");
    let path = write(
        &env,
        "b.mcpb",
        &signed_bundle(&pki, &bundle_zip(MANIFEST), Layout::Unchanged, "leaf"),
    );
    let e = mcpb::verify_for_server(&path, &store, "x", now()).unwrap_err();
    assert!(
        matches!(&e, McpbError::CertificateTime { subject, .. } if subject.contains("Old Root")),
        "{e}"
    );
}

#[test]
fn add_ca_refuses_leaves_garbage_and_keys() {
    let env = TestEnv::new();
    let pki = Pki::new(&env, "t", Alg::Ec);
    env.run([
        "trust",
        "add-ca",
        &pki.f("leaf.pem"),
        "--name",
        "leaf",
        "--scope",
        "*",
    ])
    .code(2)
    .diag("trust-input")
    .stderr_has("not a CA");
    env.write(
        "garbage.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n",
    );
    env.run([
        "trust",
        "add-ca",
        "garbage.pem",
        "--name",
        "g",
        "--scope",
        "*",
    ])
    .code(2)
    .diag("trust-input")
    .stderr_has("PEM");
    env.run([
        "trust",
        "add-ca",
        &pki.f("root.key"),
        "--name",
        "k",
        "--scope",
        "*",
    ])
    .code(2)
    .diag("trust-input");
    // Two certificates in one file: ambiguous.
    let mut two = fs::read(pki.path("root.pem")).unwrap();
    two.extend(fs::read(pki.path("inter.pem")).unwrap());
    env.write("two.pem", two);
    env.run([
        "trust", "add-ca", "two.pem", "--name", "two", "--scope", "*",
    ])
    .code(2)
    .stderr_has("exactly one");
    assert!(!env.trust_file().exists(), "nothing was written");
}

#[test]
fn an_edited_stored_ca_stops_the_store() {
    let env = TestEnv::new();
    let pki = Pki::new(&env, "t", Alg::Rsa);
    let other = Pki::new(&env, "o", Alg::Rsa);
    env.run([
        "trust",
        "add-ca",
        &pki.f("root.pem"),
        "--name",
        "acme-ca",
        "--scope",
        "*",
    ])
    .code(0);
    // Swap in another root's PEM but keep the recorded fingerprint.
    let text = String::from_utf8(fs::read(env.trust_file()).unwrap()).unwrap();
    let mine = String::from_utf8(fs::read(pki.path("root.pem")).unwrap()).unwrap();
    let body = |pem: &str| {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let theirs = String::from_utf8(fs::read(other.path("root.pem")).unwrap()).unwrap();
    let first_line = body(&mine).lines().next().unwrap().to_string();
    assert!(text.contains(&first_line), "the PEM is stored as text");
    let edited = text.replace(&body(&mine), &body(&theirs));
    assert_ne!(edited, text);
    fs::write(env.trust_file(), edited).unwrap();
    env.run(["trust", "list"])
        .code(2)
        .diag("trust-store-invalid")
        .stderr_has("fingerprint");
}

// ------------------------------------------- bundles signed by the real mcpb

fn fixture_root() -> TrustedCa {
    let der =
        mcp_warden::x509::certificate_der(&fs::read(fixture("mcpb/root.pem")).unwrap()).unwrap();
    TrustedCa {
        name: "fixture-ca".into(),
        scopes: Scopes::new(&["fixture-*".to_string()]).unwrap(),
        fingerprint: mcp_warden::x509::fingerprint(&der),
        subject: mcp_warden::x509::certificate_subject(&der).unwrap(),
        cert_der: der,
        origin: mcp_warden::trust::Origin::User,
        file: PathBuf::new(),
    }
}

#[test]
fn a_bundle_signed_by_mcpb_2_1_2_verifies() {
    let path = fixture("mcpb/signed-mcpb-2.1.2.mcpb");
    let block = mcpb::find_signature(&path).unwrap().unwrap();
    assert_eq!(block.variant, CommentVariant::Unchanged);
    assert_eq!(
        block.signed_len,
        fs::metadata(fixture("mcpb/unsigned.mcpb")).unwrap().len()
    );
    let p = mcpb::verify(&path, &[fixture_root()], now()).unwrap();
    assert_eq!(p.common_name.as_deref(), Some("Fixture Publisher"));
    assert_eq!(p.organization.as_deref(), Some("Acme Tools"));
    assert_eq!(p.ca_name, "fixture-ca");
    assert_eq!(mcpb::read_manifest(&path).unwrap().name, "fixture-files");
    assert!(
        mcpb::find_signature(&fixture("mcpb/unsigned.mcpb"))
            .unwrap()
            .is_none()
    );

    // What mcpb's main branch (mcpb#204) does after signing: raise the
    // comment length over the block. Same signature, other layout.
    let env = TestEnv::new();
    let mut bytes = fs::read(&path).unwrap();
    let signed_len = block.signed_len as usize;
    let e = eocd(&bytes[..signed_len]);
    let block_len = (bytes.len() - signed_len) as u16;
    bytes[e + 20..e + 22].copy_from_slice(&block_len.to_le_bytes());
    let covering = write(&env, "covering.mcpb", &bytes);
    let p = mcpb::verify(&covering, &[fixture_root()], now()).unwrap();
    assert!(matches!(p.variant, CommentVariant::Covering { .. }));

    // Through the trust store and the binary's add-ca.
    env.copy_fixture("mcpb/root.pem", "root.pem");
    env.run([
        "trust",
        "add-ca",
        "root.pem",
        "--name",
        "fixture-ca",
        "--scope",
        "fixture-*",
    ])
    .code(0);
    let ctx = mcp_warden::context::Context::new(Some(&env.home), None, Some(&env.system)).unwrap();
    let store = TrustStore::load(&ctx).unwrap();
    assert_eq!(store.cas[0].fingerprint, fixture_root().fingerprint);
    mcpb::verify_for_server(&covering, &store, "fixture-files", now()).unwrap();
    assert!(matches!(
        mcpb::verify_for_server(&covering, &store, "other", now()),
        Err(McpbError::OutOfScope { .. })
    ));
}
