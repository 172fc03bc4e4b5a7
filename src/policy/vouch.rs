//! Whether a signer counts for a server under one layer: the one rule for
//! every kind of signed evidence (a signature, provenance, a signed SBOM,
//! and any kind added later), so that the kinds cannot drift apart.
//!
//! `signers` and `[servers.identity]` bind every signer. A `builder-id`
//! rule is an additional condition on provenance; it anchors trust in a
//! certificate-bound builder only where the policy wrote no `signers`.

use super::{At, IdentityClaims, Policy};
use crate::diag::{Code, Diagnostic};
use crate::evidence::Signer;
use crate::trust::{Entry, TrustStore};

/// What a layer says about who may vouch for one server.
#[derive(Clone, Copy)]
pub(super) struct Binding<'a> {
    /// `None` under the default policy, where command-line keys and
    /// identity flags vouch too.
    pub policy: Option<&'a Policy>,
    pub trust: &'a TrustStore,
    pub server: &'a str,
    /// The server's (or `[defaults]`) `signers`, where written.
    pub signers: Option<&'a At<Vec<String>>>,
    /// `[servers.identity]`, where written.
    pub claims: Option<&'a IdentityClaims>,
}

/// The kind of evidence a signer signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signed {
    Signature,
    /// Provenance; `builder_named` when a `[servers.provenance]
    /// builder-id` rule matched the statement's builder.
    Provenance {
        builder_named: bool,
    },
    Sbom,
}

/// Why a signer counts.
#[derive(Debug, Clone)]
pub(super) enum Vouched {
    /// A trust-store entry in scope (and in `signers`, where written).
    Trusted { name: String, scopes: String },
    /// Under the default policy: a key or identity given on the command line.
    Adhoc(String),
    /// A certificate bound to a builder the policy names, under a layer
    /// that wrote no `signers`.
    Builder,
}

impl Vouched {
    pub fn describe(&self) -> String {
        match self {
            Vouched::Trusted { name, scopes } => format!("`{name}` (scope {scopes})"),
            Vouched::Adhoc(how) => how.clone(),
            Vouched::Builder => "the certificate of the builder that `builder-id` names".into(),
        }
    }
}

/// Why a signer does not count.
#[derive(Debug, Clone)]
pub(super) enum Refused {
    /// `[servers.identity]` does not allow the signer: in words.
    Claims(String),
    /// No trust-store entry holds the signer.
    Untrusted,
    OutOfScope {
        name: String,
        scopes: Vec<String>,
    },
    /// `signers` is written and does not name it (`None`: the signer is in
    /// no trust-store entry at all).
    NotListed {
        name: Option<String>,
    },
}

impl Binding<'_> {
    /// Whether a certificate bound to a named builder may anchor trust in
    /// provenance: only where no `signers` is written.
    pub fn builder_anchors(&self) -> bool {
        self.signers.is_none()
    }

    pub fn vouches(&self, signer: &Signer, kind: Signed) -> Result<Vouched, Vec<Refused>> {
        if let Some(c) = self.claims
            && let Err(why) = c.check(signer)
        {
            return Err(vec![Refused::Claims(why)]);
        }
        let mut refused = Vec::new();
        for name in signer.trust_names() {
            let scopes = match self.trust.get(name) {
                Some(Entry::Key(k)) => &k.scopes,
                Some(Entry::Identity(i)) => &i.scopes,
                // An `.mcpb` publisher's chain ends in a pinned CA.
                None => match self.trust.ca(name) {
                    Some(c) => &c.scopes,
                    None => continue,
                },
            };
            let in_scope = scopes.matches(self.server);
            let listed = self.signers.is_none_or(|sg| sg.value.contains(name));
            if in_scope && listed {
                return Ok(Vouched::Trusted {
                    name: name.clone(),
                    scopes: scopes.patterns.join(", "),
                });
            }
            refused.push(if in_scope {
                Refused::NotListed {
                    name: Some(name.clone()),
                }
            } else {
                Refused::OutOfScope {
                    name: name.clone(),
                    scopes: scopes.patterns.clone(),
                }
            });
        }
        if !refused.is_empty() {
            return Err(refused);
        }
        if self.policy.is_none()
            && let Some(how) = signer.adhoc()
        {
            return Ok(Vouched::Adhoc(how));
        }
        if let Signed::Provenance {
            builder_named: true,
        } = kind
            && matches!(signer, Signer::Identity(_))
        {
            return if self.builder_anchors() {
                Ok(Vouched::Builder)
            } else {
                Err(vec![Refused::NotListed { name: None }])
            };
        }
        Err(vec![Refused::Untrusted])
    }

    /// The diagnostic for one refusal of `signer`, who signed `file` as
    /// `kind`; `label` names the layer.
    pub fn diagnostic(
        &self,
        r: &Refused,
        signer: &Signer,
        kind: Signed,
        file: &str,
        label: &str,
    ) -> Diagnostic {
        let server = self.server;
        let what = match kind {
            Signed::Signature => "signed",
            Signed::Provenance { .. } => "signed the provenance",
            Signed::Sbom => "signed the SBOM",
        };
        let accepts = |sg: &At<Vec<String>>| {
            format!(
                "`{server}` accepts only {} ({})",
                if sg.value.is_empty() {
                    "no signer".to_string()
                } else {
                    sg.value.join(", ")
                },
                sg.loc
            )
        };
        match r {
            Refused::Claims(why) => Diagnostic::error(
                Code::IdentityClaimsMismatch,
                format!(
                    "{file}: {why}, which [servers.identity] at {} does not allow",
                    self.claims.map(|c| c.loc.to_string()).unwrap_or_default()
                ),
            )
            .hint("check that this is the release workflow you expect; if it moved, update [servers.identity]"),
            Refused::NotListed { name } => {
                let sg = self.signers.expect("not listed implies a list");
                let who = match name {
                    Some(n) => format!("`{n}`"),
                    None => signer.describe(),
                };
                let mut d = Diagnostic::error(
                    Code::SignerNotAllowed,
                    format!("{file}: {who} {what}, but {}", accepts(sg)),
                );
                d = if name.is_none() {
                    d.hint("`builder-id` is a condition on the builder, not a signer: trust the builder's identity with `mcp-warden trust add-identity` and add it to the server's `signers`")
                } else {
                    d.hint("add the signer to the server's `signers` if it is legitimate")
                };
                d
            }
            // Provenance and SBOMs keep their own code for a signer that
            // nothing trusts for this server (builder-untrusted,
            // sbom-unsigned); the reasons above are shared.
            Refused::OutOfScope { name, scopes } if kind == Signed::Signature => {
                Diagnostic::error(
                    Code::SignerOutOfScope,
                    format!(
                        "{file}: `{name}` {what}, but may vouch only for {} and not for `{server}`",
                        scopes.join(", ")
                    ),
                )
                .hint(format!(
                    "if `{name}` really publishes `{server}`, widen its scope: remove it and add it again with --scope; or pass the right name with --server"
                ))
            }
            Refused::Untrusted if kind == Signed::Signature => Diagnostic::error(
                Code::SignerUntrusted,
                format!(
                    "{file}: signed by {}, which the trust store does not hold; the {label} accepts trusted signers only",
                    signer.describe()
                ),
            )
            .hint(match signer {
                Signer::Key(_) => "if this is the publisher's key, trust it: mcp-warden trust add-key FILE --name NAME --scope GLOB",
                Signer::Identity(_) => "if this is the publisher's identity, trust it: mcp-warden trust add-identity --name NAME --issuer URL --identity ID --scope GLOB",
                Signer::Publisher(_) => "if this is the publisher's CA, trust it: mcp-warden trust add-ca PEM --name NAME --scope GLOB",
            }),
            Refused::Untrusted | Refused::OutOfScope { .. } => match kind {
                Signed::Sbom => Diagnostic::error(
                    Code::SbomUnsigned,
                    format!(
                        "{file}: the SBOM is signed by {}, whom nothing trusts for `{server}`",
                        signer.describe()
                    ),
                )
                .hint(super::sbom::SBOM_UNSIGNED_HINT),
                _ => Diagnostic::error(
                    Code::BuilderUntrusted,
                    format!(
                        "{file}: provenance signed by {}, and nothing says to trust that builder for `{server}`",
                        signer.describe()
                    ),
                )
                .hint(match signer {
                    Signer::Identity(_) => "name the builder in [servers.provenance] `builder-id`, or trust the signer with `mcp-warden trust add-identity`",
                    Signer::Key(_) | Signer::Publisher(_) => "a key-signed statement can name any builder: trust the key for this server with `mcp-warden trust add-key FILE --name NAME --scope GLOB`",
                }),
            },
        }
    }
}
