//! Preparing a pinned server's launch: the receipt or a full re-check, the
//! entry point, environment and secrets, sandbox, guard and audit log.
//! What it returns is only started and waited on.

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use super::judge::{self, EvidenceRequest, load_policies, load_trust};
use crate::audit::{self, Event, Sink as _};
use crate::context::Context;
use crate::diag::{Code, Diagnose as _, Failure};
use crate::launch::anchor::Anchor;
use crate::launch::entry::{self, Artifact, EnvValue};
use crate::launch::guard::{self, GuardSession, io::Guard, pins::PinStore};
use crate::launch::spawn::{Launch, Program};
use crate::launch::{env, sandbox};
use crate::lock::Lock;
use crate::policy;
use crate::receipt::{self, Fingerprint};
use crate::redact::{self, Redactor};
use crate::report::{Report, Verdict};
use crate::secrets::{SecretValue, Secrets};
use crate::source::ArtifactKind;
use crate::verify::ArtifactRef;

/// `run NAME`, as flags.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    pub name: String,
    /// Verify in full whatever the receipt says.
    pub rehash: bool,
    /// Variables passed through from run's environment.
    pub env: Vec<String>,
    pub grace_period: Duration,
    /// OTLP/HTTP base URL for the audit events, over the policy's.
    pub otlp: Option<String>,
    /// The server's arguments after the declared ones.
    pub args: Vec<OsString>,
    /// Never fetch: files missing from the cache are an error, not
    /// fetched again from the lock.
    pub offline: bool,
}

/// A server planned and ready to start once the verdict on its files is
/// in ([`Admission::decide`]).
pub struct Prepared {
    pub launch: Launch,
    /// What the sandbox could not enforce here (best effort).
    pub gaps: Vec<String>,
    /// The audit log, open for the server's lifetime; flush it (with
    /// [`FLUSH`]) when the server ends.
    pub audit: audit::Shared,
    pub admission: Admission,
}

/// The check of the pinned files (their receipt, or a full check), made
/// by [`Admission::decide`]: before the server starts or, where the
/// interpreter has a gate, while it starts
/// ([`crate::launch::spawn::run_admitted`]); the server loads nothing
/// before it said yes.
pub struct Admission {
    check: Check,
    trust: crate::trust::TrustStore,
    policies: policy::PolicySet,
    banner: Banner,
    record: LaunchRecord,
}

impl Admission {
    /// Checks the pinned files. Once they are sound,
    /// puts the launch on record and returns the line to print before the
    /// server starts; a server whose launch is not on record does not
    /// start (a full disk, say: its records would be missing). A refusal
    /// is on record too.
    pub fn decide(mut self, audit: &mut audit::Shared) -> Result<String, Refused> {
        let early = self.check.early.take().map(|walk| {
            walk.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the walk of the files failed")))
        });
        let how = match check_files(&self.check, early, &self.trust, &self.policies) {
            Ok(how) => how,
            Err(e) => {
                audit.record(self.record.event(verdict_of(&e), String::new()));
                audit.flush(FLUSH);
                return Err(e);
            }
        };
        let name = &self.record.server;
        if let Err(e) = audit.try_record(
            self.record
                .event(audit::LaunchVerdict::Allowed, self.record.sandbox.clone()),
        ) {
            audit.flush(FLUSH);
            let hint = e.hint().unwrap_or_default();
            return Err(Failure::input(
                e.code(),
                format!(
                    "{name}: the launch record could not be written, so the server was not started: {e}"
                ),
                Some(format!(
                    "{hint}; run starts no server without its launch record"
                )),
            )
            .into());
        }
        // The anchor moved with the launch record; the keychain connection
        // is not kept open beside the server (the key stays, for the head).
        audit.release_anchor();
        Ok(self.banner.line(how))
    }
}

/// What the audit log's launch record says, but the verdict.
struct LaunchRecord {
    server: String,
    digest: String,
    signers: Vec<String>,
    signed: Vec<String>,
    policy_digest: String,
    /// What the sandbox enforces, in one line.
    sandbox: String,
}

impl LaunchRecord {
    fn event(&self, verdict: audit::LaunchVerdict, sandbox: String) -> Event {
        Event::Launch {
            server: self.server.clone(),
            digest: self.digest.clone(),
            signers: self.signers.clone(),
            signed: self.signed.clone(),
            policy_digest: self.policy_digest.clone(),
            verdict,
            sandbox,
        }
    }
}

fn verdict_of(e: &Refused) -> audit::LaunchVerdict {
    match e.failure.exit {
        crate::diag::EXIT_DENIED => audit::LaunchVerdict::Denied,
        _ => audit::LaunchVerdict::Error,
    }
}

/// Why a server does not start: the failure and, for a denial, the report
/// that explains it.
#[derive(Debug)]
pub struct Refused {
    pub report: Option<Box<Report>>,
    pub failure: Failure,
}

impl From<Failure> for Refused {
    fn from(failure: Failure) -> Self {
        Refused {
            report: None,
            failure,
        }
    }
}

/// Everything before a pinned server starts: the pin looked up, its
/// files' check started, the launch planned. A refusal is on record.
pub fn prepare(ctx: &Context, a: &LaunchRequest) -> Result<Prepared, Refused> {
    let name = a.name.as_str();
    let lock = Lock::load(&ctx.config_dir.join("servers.lock")).map_err(Failure::from)?;
    let Some(entry) = lock.servers.get(name) else {
        return Err(Failure::input(
            Code::ServerUnknown,
            format!("no server named `{name}` is pinned"),
            Some(format!(
                "pin it first: `mcp-warden add {name} SOURCE` (see `mcp-warden add --help`)"
            )),
        )
        .into());
    };
    let trust = load_trust(ctx)?;
    let policies = load_policies(ctx, &trust)?;
    // An entry meant for this server that misses it by case is said
    // before the server starts without it.
    let about = format!("`{name}`");
    for d in (policies.warnings.iter())
        .filter(|d| d.code == Code::PolicyNameCase && d.message.contains(&about))
    {
        tracing::warn!(
            "{}: warning[{}]: {}",
            d.location.as_deref().unwrap_or_default(),
            d.code.as_str(),
            d.message
        );
    }

    // Every launch decision is recorded, the refusals too.
    let mut audit = open_audit(ctx, a, &policies)?;
    // What the keychain's anchor remembers and the files no longer show
    // is said now, in the log, before this launch's record moves it.
    if let Some(problem) = audit.check_anchor() {
        tracing::warn!("the audit log does not match its anchor in the keychain: {problem}");
        audit.record(Event::Guard {
            server: name.to_string(),
            kind: audit::GuardKind::AuditAnchor,
            detail: problem,
        });
    }
    let judges = Judges {
        trust: &trust,
        policies: &policies,
        digest: receipt::policy_digest(ctx),
    };
    let record = |sandbox: String| LaunchRecord {
        server: name.to_string(),
        digest: format!("sha256:{}", entry.sha256),
        signers: entry.signers.clone(),
        signed: entry.signed_labels(),
        policy_digest: judges.digest.clone(),
        sandbox,
    };
    let ready = match plan(a, ctx, entry, &judges, &audit) {
        Ok(r) => r,
        Err(e) => {
            audit.record(record(String::new()).event(verdict_of(&e), String::new()));
            audit.flush(FLUSH);
            return Err(e);
        }
    };
    let record = record(ready.sandbox);
    Ok(Prepared {
        launch: ready.launch,
        gaps: ready.gaps,
        audit,
        admission: Admission {
            check: ready.check,
            trust,
            policies,
            banner: ready.banner,
            record,
        },
    })
}

/// How long `run` waits, at the end, for audit events to reach an OTLP
/// collector.
pub const FLUSH: Duration = Duration::from_secs(2);

/// The audit log, exporting to `--otlp` or the policy's `[audit] otlp`.
fn open_audit(
    ctx: &crate::context::Context,
    a: &LaunchRequest,
    policies: &policy::PolicySet,
) -> Result<audit::Shared, Failure> {
    let fail = |e: audit::AuditError| -> Failure {
        let mut f = Failure::input(e.code(), e.to_string(), e.hint());
        // A server that could not be accounted for is not started.
        if e.code() == Code::AuditUnavailable {
            f.diagnostics[0].hint = Some(format!(
                "{}; run refuses to start a server without its audit log",
                e.hint()
                    .unwrap_or_else(|| "check the home's data directory".into())
            ));
        }
        f
    };
    let mut log = audit::AuditLog::open(ctx).map_err(fail)?;
    // The key that authenticates the head, and the anchor: without them a
    // log deleted or rewritten by a process that can write the files
    // could not be told apart, so run refuses unless the policy opts out.
    if policies.audit_anchor() {
        log = crate::secrets::Secrets::open(ctx)
            .map_err(audit::AnchorError::from)
            .and_then(|s| log.with_keychain(Box::new(s)))
            .map_err(|e| {
                Failure::input(
                    Code::AuditUnavailable,
                    format!("the audit log's key cannot be read from the keychain: {e}"),
                    Some("unlock the OS keychain (or start a Secret Service); run refuses to start a server whose audit log it cannot anchor, unless the policy says `[audit] anchor = \"off\"`".into()),
                )
            })?;
    }
    if let Some(url) = a.otlp.clone().or_else(|| policies.otlp()) {
        log = log.with_otlp(&url).map_err(fail)?;
    }
    Ok(audit::Shared::new(log))
}

/// What judges a launch: the trust store, the policies, and the digest of
/// the files both were read from (for the receipt and the audit log).
struct Judges<'a> {
    trust: &'a crate::trust::TrustStore,
    policies: &'a policy::PolicySet,
    digest: String,
}

/// A server ready to start, its files' check under way.
struct Ready {
    launch: Launch,
    check: Check,
    /// The line `run` prints on stderr before the server starts.
    banner: Banner,
    /// What the sandbox enforced, in one line (for the audit log).
    sandbox: String,
    /// What the sandbox could not enforce here (best effort).
    gaps: Vec<String>,
}

/// Everything before the server starts but the check of its files: the
/// files opened, the entry point, the environment and secrets, the sandbox
/// and the guard. Any error here means the server does not start; the
/// files are then checked first, and their error, if any, is the one told
/// (changed files are what is wrong).
fn plan(
    a: &LaunchRequest,
    ctx: &Context,
    entry: &crate::lock::Entry,
    judges: &Judges,
    audit: &audit::Shared,
) -> Result<Ready, Refused> {
    let anchor = open_pinned(a, ctx, entry)?;
    let mut check = check_for(a, ctx, entry, judges, &anchor)?;
    match plan_start(a, ctx, entry, judges, audit, anchor, &mut check) {
        Ok((launch, banner, sandbox, gaps, derived)) => Ok(Ready {
            check: Check {
                // Beside the interpreter's start, it leaves it cores.
                walkers: match launch.gate {
                    Some(_) => receipt::Walkers::Half,
                    None => receipt::Walkers::All,
                },
                derived: Some(derived),
                ..check
            },
            launch,
            banner,
            sandbox,
            gaps,
        }),
        Err(e) => Err(check_files(&check, None, judges.trust, judges.policies)
            .err()
            .unwrap_or(e)),
    }
}

/// How the server is started, while its files are checked.
fn plan_start(
    a: &LaunchRequest,
    ctx: &Context,
    entry: &crate::lock::Entry,
    judges: &Judges,
    audit: &audit::Shared,
    anchor: Anchor,
    check: &mut Check,
) -> Result<(Launch, Banner, String, Vec<String>, Derivation), Refused> {
    let name = a.name.as_str();
    let is_tree = entry.tree.is_some();

    // How to start it.
    let (origin, signers) = (entry.origin(), entry.artifact_signers());
    let subject = policy::Subject {
        name,
        origin: &origin,
        signers: &signers,
    };
    let rules = judges.policies.run_rules(&subject);
    let path_var = std::env::var_os("PATH");
    let pinned_name = pinned_file_name(&entry.source);
    let artifact = match is_tree {
        true => Artifact::Tree(anchor.path()),
        false => Artifact::File {
            path: anchor.path(),
            name: &pinned_name,
        },
    };
    // The entry point the last full check found in these files, while its
    // receipt stands for them (the check below decides that); found again
    // otherwise, and with --rehash.
    let kept = (check.receipt.as_ref())
        .filter(|r| is_tree && !a.rehash && r.sha256 == entry.sha256)
        .and_then(|r| r.entry.as_deref())
        .and_then(|text| serde_json::from_str::<entry::Kept>(text).ok())
        .and_then(|k| k.reuse(anchor.path(), &rules, path_var.as_deref()));
    let mut ep = match kept {
        Some(ep) => {
            // Nothing of the files is read before the check any more: it
            // starts now, beside the rest of the planning, rather than
            // beside the interpreter's start (which it would slow).
            check.early = check.files.try_clone().ok().and_then(|files| {
                std::thread::Builder::new()
                    .name("warden-walk".into())
                    .spawn(move || Fingerprint::of_tree_with(files.path(), receipt::Walkers::Half))
                    .ok()
            });
            ep
        }
        None => entry::resolve(artifact, &rules, path_var.as_deref())
            .map_err(|e| Failure::from(e).about(name))?,
    };
    let derived = Derivation {
        root: anchor.path().to_path_buf(),
        pinned_name: pinned_name.clone(),
        rules: rules.clone(),
        path_var: path_var.clone(),
        found: ep.clone(),
    };
    // A Python found as a launcher script (pyenv's shim) is run as the
    // binary the script starts: the same interpreter without a shell and
    // the manager on every start. Not knowing it is not an error here:
    // the script then runs as it is.
    if let Some(i) = ep.interpreter.as_ref()
        && i.runtime == crate::launch::interp::Runtime::Python
    {
        match crate::launch::interp::behind_launcher(&ctx.cache_dir, &i.path) {
            Ok(Some(binary)) => ep.run_directly(binary),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!("{name}: the interpreter's launcher was not looked behind: {e}")
            }
        }
    }
    let Environment {
        mut plain,
        secret_env,
        redactor,
    } = environment(a, ctx, entry, &rules, &ep, audit)?;
    // The interpreter waits at its gate while the files are checked;
    // not when NODE_OPTIONS may load code before it (`--require` modules
    // run before `--import` ones): then the verdict comes first.
    let preloads = plain.iter().any(|(k, _)| k == "NODE_OPTIONS")
        || secret_env.iter().any(|(k, _)| k == "NODE_OPTIONS");
    let gate = match ep.gate {
        entry::Gate::None => None,
        entry::Gate::NodeImport if preloads => None,
        _ => {
            let pipe = crate::launch::spawn::GatePipe::new().map_err(|e| {
                Failure::input(
                    Code::LaunchFailed,
                    format!("{name}: cannot make the start gate: {e}"),
                    None,
                )
            })?;
            ep.hold_at(pipe.fd()).then_some(pipe)
        }
    };
    let mut args = ep.args.clone();
    args.extend(entry.run.pinned_args().map(OsString::from));
    args.extend(a.args.iter().cloned());

    let Confinement {
        sandbox: confined,
        summary,
        gaps,
        cwd,
        denials,
    } = confine(
        ctx,
        (name, entry, &a.args),
        (&rules, judges.policies),
        &anchor,
        &ep,
        &mut plain,
    )?;
    // Pins and approvals are per argument variant: the pinned arguments
    // and those given now (not the entry point's, fixed by the digest).
    let variant = {
        let mut given: Vec<OsString> = entry.run.pinned_args().map(OsString::from).collect();
        given.extend(a.args.iter().cloned());
        crate::launch::guard::pins::variant(&given)
    };
    let mut guard = guard_for(
        ctx,
        (name, entry, variant),
        &rules,
        judges.policies,
        audit,
        &redactor,
    )?;
    if let Some(g) = guard.as_mut() {
        g.denials = denials;
    }
    let limits = crate::launch::limits::Limits::from_policy(&rules);
    let banner = Banner::new(name, entry, &ep, &summary, &limits, guard.is_some());

    let (program, anchor) = match (&ep.program, is_tree) {
        (Some(p), _) => (Program::Path(p.clone()), Some(anchor)),
        (None, false) => (Program::File(anchor.into_file()), None),
        (None, true) => {
            return Err(Failure::input(
                Code::EntryPoint,
                format!("{name}: nothing to execute"),
                None,
            )
            .into());
        }
    };
    let launch = Launch {
        program,
        argv0: ep.argv0.clone(),
        args,
        env: plain,
        secret_env,
        cwd,
        grace: a.grace_period,
        sandbox: confined,
        guard,
        anchor,
        limits: Some(limits),
        // `run` supervises this one server: everything it starts ends
        // with it.
        unit: crate::launch::Unit::Namespace,
        gate,
    };
    Ok((launch, banner, summary, gaps, derived))
}

/// The pinned files, opened once. Everything after (fingerprint, digest,
/// entry point, sandbox, the interpreter's arguments) reaches them through
/// this descriptor, never by their name again (see launch::anchor).
fn open_pinned(
    a: &LaunchRequest,
    ctx: &Context,
    entry: &crate::lock::Entry,
) -> Result<Anchor, Refused> {
    let name = a.name.as_str();
    let cache = crate::cache::Cache::open(&ctx.cache_dir).map_err(Failure::from)?;
    let damaged = |what: String| -> Refused { damaged(name, what).into() };
    // An empty cache (another machine, a cleared cache): the files are
    // fetched again from the lock, as `add --locked` does, then checked
    // like any others. A warm cache costs nothing more.
    let restore = || -> Result<(), Failure> {
        let client = super::restore::client(a.offline)?;
        super::restore::restore(ctx, name, entry, client.as_ref(), RESTORE_MAX).map(|_| ())
    };
    Ok(match &entry.tree {
        Some(key) => {
            let there =
                |c: &crate::cache::Cache| c.tree(key).map_err(|e| damaged(format!("{name}: {e}")));
            if there(&cache)?.is_none() {
                restore()?;
            }
            there(&cache)?.ok_or_else(|| {
                damaged(format!("{name}: the unpacked files are not in the cache"))
            })?;
            Anchor::open_dir(&ctx.cache_dir, &["trees", "sha256", key])
                .map_err(|e| damaged(format!("{name}: the unpacked files cannot be opened: {e}")))?
        }
        None => {
            let blob_path = cache.blob_path(&entry.sha256);
            if std::fs::symlink_metadata(&blob_path).is_err() {
                restore()?;
            }
            ensure_executable(&blob_path);
            Anchor::open_file(&blob_path).map_err(|e| {
                damaged(format!(
                    "{name}: the pinned artifact sha256:{} cannot be opened: {e}",
                    entry.sha256
                ))
            })?
        }
    })
}

/// What the check of the pinned files works on.
struct Check {
    ctx: Context,
    name: String,
    rehash: bool,
    entry: crate::lock::Entry,
    digest: String,
    /// The pinned files, through a descriptor of the check's own (the
    /// launch's may be closed first, on an error).
    files: Anchor,
    walkers: receipt::Walkers,
    /// How the entry point was found before the check; `None` when the
    /// launch was not planned (the check then only tells what is wrong).
    derived: Option<Derivation>,
    /// The receipt of the last full check, read once: what spares the
    /// check and the entry point it kept come from the same reading.
    receipt: Option<receipt::Receipt>,
    /// The walk of the files' fingerprint, started early: only when the
    /// entry point came from the receipt, so that nothing the launch
    /// reads of the files is read after the walk saw them.
    early: Option<std::thread::JoinHandle<std::io::Result<Fingerprint>>>,
}

/// The entry point as it was found in the pinned files before they were
/// checked, and how: a full check finds it again in the files it found
/// sound ([`Derivation::holds`]), so what starts is what the verified
/// files say, not what they said a moment earlier (a file changed, then
/// put back, between the two reads).
struct Derivation {
    /// The files' path it was found under (the launch's descriptor).
    root: std::path::PathBuf,
    pinned_name: String,
    rules: policy::RunRules,
    path_var: Option<OsString>,
    found: entry::EntryPoint,
}

impl Derivation {
    /// Whether the files at `files` (the check's descriptor of the same
    /// files) give the same entry point; what differs when not.
    fn holds(&self, files: &std::path::Path, is_tree: bool) -> Result<(), String> {
        let artifact = match is_tree {
            true => Artifact::Tree(files),
            false => Artifact::File {
                path: files,
                name: &self.pinned_name,
            },
        };
        match entry::resolve(artifact, &self.rules, self.path_var.as_deref()) {
            Ok(again) if again.clone().rebased(files, &self.root) == self.found => Ok(()),
            Ok(again) => Err(format!(
                "the entry point read before the check ({}) is not the checked files' ({})",
                self.found.describe, again.describe
            )),
            Err(e) => Err(format!("the checked files give no entry point: {e}")),
        }
    }
}

/// The check of the pinned files, to be made.
fn check_for(
    a: &LaunchRequest,
    ctx: &Context,
    entry: &crate::lock::Entry,
    judges: &Judges,
    anchor: &Anchor,
) -> Result<Check, Refused> {
    let name = a.name.as_str();
    let files = anchor
        .try_clone()
        .map_err(|e| damaged(name, format!("{name}: {e}")))?;
    let check = Check {
        ctx: ctx.clone(),
        name: name.to_string(),
        rehash: a.rehash,
        entry: entry.clone(),
        digest: judges.digest.clone(),
        files,
        walkers: receipt::Walkers::All,
        derived: None,
        receipt: (!a.rehash).then(|| receipt::load(ctx, name)).flatten(),
        early: None,
    };
    Ok(check)
}

/// How the pinned files were found sound: by the receipt of an earlier
/// full check that still fits them, or by a full check now.
fn check_files(
    c: &Check,
    early: Option<std::io::Result<Fingerprint>>,
    trust: &crate::trust::TrustStore,
    policies: &policy::PolicySet,
) -> Result<&'static str, Refused> {
    let (ctx, name, entry) = (&c.ctx, c.name.as_str(), &c.entry);
    let damaged = |what: String| -> Refused { damaged(name, what).into() };
    let is_tree = entry.tree.is_some();
    let fingerprint = || -> std::io::Result<Fingerprint> {
        match is_tree {
            true => Fingerprint::of_tree_with(c.files.path(), c.walkers),
            false => c.files.metadata().map(|m| Fingerprint::of_file(&m)),
        }
    };
    let before =
        (early.unwrap_or_else(fingerprint)).map_err(|e| damaged(format!("{name}: {e}")))?;

    let entry_toml = toml::to_string(entry).unwrap_or_default();
    let db_paths = policies.advisories_dbs();
    let inputs = receipt::inputs(&c.digest, &entry_toml, &db_paths);
    let fresh = receipt_answers(
        c.receipt.as_ref(),
        c.rehash,
        &entry.sha256,
        &inputs,
        &before,
    );
    if fresh {
        return Ok("receipt");
    }
    receipt::remove(ctx, name);
    // A single file is verified through the open descriptor: the bytes
    // hashed are the bytes that run.
    verify_in_full(
        ctx,
        name,
        entry,
        trust,
        policies,
        (!is_tree).then_some(c.files.path()),
    )?;
    // The tree that runs is compared with the tree digest pinned at
    // `add` (for a directory, the pin itself).
    if is_tree {
        check_tree(ctx, name, entry, c.files.path())?;
    }
    // What starts is what these files say.
    if let Some(d) = &c.derived
        && let Err(what) = d.holds(c.files.path(), is_tree)
    {
        return Err(damaged(format!(
            "{name}: the pinned files changed while they were being checked: {what}"
        )));
    }
    // Nothing may have changed in place while it was hashed.
    if fingerprint().ok().as_ref() != Some(&before) {
        return Err(damaged(format!(
            "{name}: the cached files changed while they were being checked"
        )));
    }
    let mut record = receipt::Receipt::new(&entry.sha256, &inputs, &before);
    // The entry point these verified files give, for the starts the
    // receipt spares.
    record.entry = (c.derived.as_ref())
        .filter(|_| is_tree)
        .and_then(|d| entry::Kept::of(&d.found, &d.root))
        .and_then(|k| serde_json::to_string(&k).ok())
        .filter(|json| json.len() <= receipt::MAX_KEPT);
    if let Err(e) = receipt::save(ctx, name, &record) {
        tracing::warn!("cannot record the verification receipt: {e}");
    }
    Ok(if c.rehash { "re-hashed" } else { "verified" })
}

/// The server's environment: run's allowlist, the declared variables and
/// the secrets from the keychain, and the redactor that hides them.
struct Environment {
    plain: Vec<(OsString, OsString)>,
    secret_env: Vec<(String, SecretValue)>,
    redactor: Arc<Redactor>,
}

fn environment(
    a: &LaunchRequest,
    ctx: &Context,
    entry: &crate::lock::Entry,
    rules: &policy::RunRules,
    ep: &entry::EntryPoint,
    audit: &audit::Shared,
) -> Result<Environment, Refused> {
    let name = a.name.as_str();
    // The environment: allowlist, declared variables, secrets.
    let stored = crate::secrets::stored_names(ctx, name).map_err(Failure::from)?;
    let plan = env::plan(std::env::vars_os(), &entry.run.env, rules, &stored, &a.env);
    if let Some((var, from)) = plan.refused.first() {
        return Err(Failure::input(
            Code::EnvRefused,
            format!(
                "{name}: {var} makes the runtime load code, and {from} may not set it; only the policy may"
            ),
            Some(format!(
                "if you mean it, set it in the policy: [servers.run] env = {{ {var} = \"inherit\" }} (or \"keychain\")"
            )),
        )
        .into());
    }
    if let Some(var) = plan.missing.first() {
        return Err(Failure::input(
            Code::EnvMissing,
            format!("{name}: the server requires {var}, and run's environment does not have it"),
            Some(format!(
                "set {var} in the client config's `env` block, or store it as a secret: `mcp-warden secret set {name} {var}`"
            )),
        )
        .into());
    }
    for var in &plan.unset_passes {
        tracing::warn!("--env {var}: not set in run's environment; the server does not get it");
    }
    let mut plain = plan.plain;
    // (variable, required, default) for every secret wanted.
    let mut wanted: Vec<(&str, bool, Option<&str>)> = plan
        .secrets
        .iter()
        .map(|n| (n.var.as_str(), n.required, None))
        .collect();
    for (var, value) in &ep.env {
        match value {
            EnvValue::Plain(v) => {
                plain.retain(|(k, _)| k != var.as_str());
                plain.push((var.into(), v.into()));
            }
            EnvValue::Secret { default, required } => {
                wanted.push((var, *required, default.as_deref()));
            }
        }
    }
    let mut secret_env: Vec<(String, SecretValue)> = Vec::new();
    // The keychain is opened only when a secret is wanted.
    let secrets = match wanted.is_empty() {
        true => None,
        false => Some(Secrets::open(ctx).map_err(Failure::from)?),
    };
    for (var, required, default) in wanted {
        let Some(secrets) = &secrets else { break };
        if secret_env.iter().any(|(k, _)| k == var) {
            continue;
        }
        match secrets.get(name, var).map_err(Failure::from)? {
            Some(v) => {
                plain.retain(|(k, _)| k != var);
                secret_env.push((var.to_string(), v));
            }
            None => match default {
                Some(d) => plain.push((var.into(), d.into())),
                None if required => {
                    return Err(Failure::input(
                        Code::SecretMissing,
                        format!("{name}: the secret {var} is not in the keychain"),
                        Some(format!("store it: `mcp-warden secret set {name} {var}`")),
                    )
                    .into());
                }
                None => {}
            },
        }
    }

    // The keychain connection is not kept open beside the server.
    drop(secrets);
    // One redactor for the launch: stderr, the guard's notes, the audit
    // log and its OTLP export all pass it.
    let redactor = Arc::new(Redactor::new(
        &secret_env
            .iter()
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>(),
    ));
    audit.set_redactor(redactor.clone());
    let short: Vec<&str> = secret_env
        .iter()
        .filter(|(_, v)| v.expose().len() < redact::MIN_SECRET)
        .map(|(k, _)| k.as_str())
        .collect();
    if !short.is_empty() {
        tracing::warn!(
            "{name}: the secret{} {} {} shorter than {} bytes and {} not redacted from stderr or the audit log (a value that short cannot be told from ordinary text); store a longer one",
            if short.len() == 1 { "" } else { "s" },
            short.join(", "),
            if short.len() == 1 { "is" } else { "are" },
            redact::MIN_SECRET,
            if short.len() == 1 { "is" } else { "are" },
        );
    }
    Ok(Environment {
        plain,
        secret_env,
        redactor,
    })
}

/// What the sandbox confines the server to, and where it starts.
struct Confinement {
    sandbox: Option<sandbox::Prepared>,
    /// What the sandbox enforces, in one line.
    summary: String,
    /// What it could not enforce here.
    gaps: Vec<String>,
    cwd: std::path::PathBuf,
    /// What tells the sandbox's denials on stderr.
    denials: Option<crate::launch::denials::Explainer>,
}

/// The paths among `args`: absolute, `~/...` under `home`, or the value
/// of an `--option=/path`. Relative ones are not: the server starts in
/// its own state directory, where they would name something else.
fn arg_paths<'a>(
    args: impl Iterator<Item = &'a std::ffi::OsStr>,
    home: Option<&std::path::Path>,
) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for a in args {
        let Some(a) = a.to_str() else { continue };
        let v = match a.split_once('=') {
            Some((opt, v)) if opt.starts_with('-') => v,
            _ => a,
        };
        if v.starts_with('/') {
            out.push(std::path::PathBuf::from(v));
        } else if let (Some(rest), Some(h)) = (v.strip_prefix("~/"), home) {
            out.push(h.join(rest));
        }
    }
    out
}

/// The policy file whose `[servers.run]` or `[defaults.run]` decides
/// `name`'s paths: the administrator's when it names any, else the user's.
fn deciding_policy(
    ctx: &Context,
    policies: &policy::PolicySet,
    subject: &policy::Subject,
) -> std::path::PathBuf {
    (policies.layers.iter())
        .find(|p| {
            (p.runs_for(subject).iter())
                .any(|r| !r.read_paths.is_empty() || !r.write_paths.is_empty())
        })
        .map(|p| p.file.clone())
        .unwrap_or_else(|| ctx.user_policy_file())
}

fn confine(
    ctx: &Context,
    (name, entry, runtime_args): (&str, &crate::lock::Entry, &[OsString]),
    (rules, policies): (&policy::RunRules, &policy::PolicySet),
    anchor: &Anchor,
    ep: &entry::EntryPoint,
    plain: &mut Vec<(OsString, OsString)>,
) -> Result<Confinement, Failure> {
    // The sandbox: the verified files, the interpreter, and the server's
    // own state directories as its HOME and TMPDIR.
    let mode: sandbox::Mode = rules.sandbox.map(Into::into).unwrap_or_default();
    let mut cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("/"));
    let (sandbox, summary, gaps, denials) = if mode == sandbox::Mode::Off {
        (None, "sandbox off".to_string(), Vec::new(), None)
    } else {
        let artifact = anchor.path().to_path_buf();
        let interpreter = ep
            .interpreter
            .as_ref()
            .map(|i| (i.path.as_path(), i.runtime));
        let network = rules.network.unwrap_or(false);
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let expand = |list: &[policy::At<String>]| -> Vec<std::path::PathBuf> {
            (list.iter())
                .filter_map(|p| match p.value.strip_prefix("~/") {
                    Some(rest) => home.as_ref().map(|h| h.join(rest)),
                    None => Some(std::path::PathBuf::from(&p.value)),
                })
                .collect()
        };
        let (read, write) = (expand(&rules.read_paths), expand(&rules.write_paths));
        // Only what the user pinned (`add -- ARGS`): the source's own
        // arguments come from metadata no signature covers, and those
        // given at run time from whoever wrote the client's config.
        let pinned = arg_paths(
            entry.run.server_args.iter().map(std::ffi::OsStr::new),
            home.as_deref(),
        );
        let granted_args = match rules.grant_arg_paths {
            Some(true) => pinned.clone(),
            _ => Vec::new(),
        };
        let (prepared, dirs, granted) = sandbox::for_server(&sandbox::Server {
            ctx,
            home: home.as_deref(),
            name,
            mode,
            network,
            artifact: &artifact,
            interpreter,
            read: &read,
            write: &write,
            arg_paths: &granted_args,
        })
        .map_err(|e| Failure::from(e).about(name))?;
        let denials = crate::launch::denials::Explainer::new(
            name,
            granted,
            network,
            deciding_policy(
                ctx,
                policies,
                &policy::Subject {
                    name,
                    origin: &entry.origin(),
                    signers: &entry.artifact_signers(),
                },
            ),
            (
                pinned,
                arg_paths(
                    runtime_args.iter().map(OsString::as_os_str),
                    home.as_deref(),
                ),
            ),
        );
        for (var, dir) in [("HOME", &dirs.home), ("TMPDIR", &dirs.tmp)] {
            plain.retain(|(k, _)| k != var);
            plain.push((var.into(), dir.into()));
        }
        cwd = dirs.home.clone();
        let mut summary = prepared.report().summary();
        let shown: Vec<String> = (granted_args.iter())
            .filter(|p| p.exists())
            .map(|p| crate::text::printable(&p.to_string_lossy(), 200))
            .collect();
        if !shown.is_empty() {
            summary.push_str(&format!("; arguments granted: {}", shown.join(", ")));
        }
        let gaps = prepared.report().not_enforced.clone();
        (Some(prepared), summary, gaps, Some(denials))
    };
    Ok(Confinement {
        sandbox,
        summary,
        gaps,
        cwd,
        denials,
    })
}

fn guard_for(
    ctx: &Context,
    (name, entry, variant): (&str, &crate::lock::Entry, Option<String>),
    rules: &policy::RunRules,
    policies: &policy::PolicySet,
    audit: &audit::Shared,
    redactor: &Arc<Redactor>,
) -> Result<Option<Guard>, Failure> {
    // The guard, unless the policy says `guard = false`.
    Ok(match rules.guard.unwrap_or(true) {
        false => None,
        true => {
            let pins = PinStore::open(&ctx.data_dir, name, &entry.sha256, variant.as_deref())
                .map_err(|e| Failure::from(e).about(name))?;
            let mut guard_rules = guard::Rules::from_policy(
                name,
                &entry.sha256,
                rules,
                policies.tools_pinned(&policy::Subject {
                    name,
                    origin: &entry.origin(),
                    signers: &entry.artifact_signers(),
                }),
            );
            guard_rules.variant = variant;
            let session = GuardSession::new(guard_rules, pins, Box::new(audit.clone()))
                .map_err(|e| Failure::from(e).about(name))?;
            Some(Guard {
                session: Box::new(session),
                limits: guard::Limits::from_policy(rules),
                redactor: redactor.clone(),
                denials: None,
            })
        }
    })
}

/// The line `run` prints on stderr before the server starts, but how the
/// files were found sound (known once their check ends).
struct Banner {
    head: String,
    tail: String,
}

impl Banner {
    fn new(
        name: &str,
        entry: &crate::lock::Entry,
        ep: &entry::EntryPoint,
        summary: &str,
        limits: &crate::launch::limits::Limits,
        guard_on: bool,
    ) -> Banner {
        let mut facts = vec![format!(
            "sha256:{}",
            &entry.sha256[..entry.sha256.len().min(12)]
        )];
        if let Some(signed) = entry.signed_summary() {
            facts.push(signed);
        }
        if let Some(r) = &entry.unsigned {
            facts.push(format!(
                "unsigned on purpose: {}",
                crate::text::printable(r, crate::lock::MAX_REASON_CHARS)
            ));
        }
        let interpreter = ep
            .interpreter
            .as_ref()
            .map(|i| match &i.via {
                Some(via) => format!(
                    " [{}, started by {} from {}]",
                    i.path.display(),
                    via.display(),
                    i.from
                ),
                None => format!(" [{} from {}]", i.path.display(), i.from),
            })
            .unwrap_or_default();
        let version = (entry.version.as_deref())
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        Banner {
            head: format!(
                "mcp-warden: starting {name}{version} ({}, ",
                facts.join(", ")
            ),
            tail: format!(
                "): {}{interpreter}; {summary}; {}; guard {}",
                ep.describe,
                limits.summary(),
                if guard_on { "on" } else { "off" },
            ),
        }
    }

    fn line(&self, how: &str) -> String {
        format!("{}{how}{}", self.head, self.tail)
    }
}

/// The checks of `verify --server NAME` with the evidence `add` kept; a
/// verdict other than allowed is refused with its report.
pub(crate) fn verify_in_full(
    ctx: &Context,
    name: &str,
    entry: &crate::lock::Entry,
    trust: &crate::trust::TrustStore,
    policies: &policy::PolicySet,
    opened: Option<&std::path::Path>,
) -> Result<(), Refused> {
    let mut ev = EvidenceRequest::default();
    // A cached copy that lost its digest failed verification (exit 1).
    let artifact = super::pinned::artifact(ctx, name, &mut ev, false).map_err(|mut f| {
        if f.diagnostics.iter().any(|d| d.code == Code::CacheMismatch) {
            f.exit = 1;
        }
        f
    })?;
    // The file that will run, through its open descriptor, rather than
    // the cache path `pinned` names.
    let artifact = match (artifact, opened) {
        (ArtifactRef::Path(_), Some(p)) => ArtifactRef::Path(p.to_path_buf()),
        (a, _) => a,
    };
    let evidence = judge::collect(artifact, Some(name), &ev, None, trust)?;
    // The one pass over the artifact that verification made also gave its
    // SHA-256: it must be the pinned one before the verdict counts.
    if entry.kind != ArtifactKind::Directory {
        let now = evidence
            .artifact
            .digest(crate::digest::Algorithm::Sha256)
            .map(|d| d.hex());
        if now.as_deref() != Some(entry.sha256.as_str()) {
            return Err(damaged(
                name,
                format!(
                    "{name}: the cached artifact has sha256:{}, not the pinned sha256:{}",
                    now.unwrap_or_default(),
                    entry.sha256
                ),
            )
            .into());
        }
    }
    let db = judge::load_advisories(ev.advisories.as_deref(), policies)?;
    let mut report = judge::decide(&evidence, &ev, (trust, policies), db.as_ref());
    // The tree's packages, judged at `add` from the SBOM made of it, are
    // judged again: the policy or an advisory may have changed since.
    let tree = super::sbom::judge_kept(ctx, name, entry, (policies, db.as_ref()))?;
    for d in tree {
        if d.severity == crate::diag::Severity::Error {
            report.verdict = Verdict::Denied;
        }
        if !(report.diagnostics.iter()).any(|e| e.code == d.code && e.message == d.message) {
            report.diagnostics.push(d);
        }
    }
    if report.verdict == Verdict::Allowed {
        return Ok(());
    }
    Err(Refused {
        failure: Failure {
            diagnostics: Vec::new(),
            exit: report.verdict.exit_code(),
        },
        report: Some(Box::new(report)),
    })
}

/// The tree at `path` has the tree digest pinned at `add` (for a
/// directory, the pin itself); when it does not, the message names the
/// packages whose files changed.
pub(crate) fn check_tree(
    ctx: &Context,
    name: &str,
    entry: &crate::lock::Entry,
    path: &std::path::Path,
) -> Result<(), Failure> {
    let expected = entry.tree_digest.as_deref().unwrap_or(&entry.sha256);
    let listing =
        crate::cache::tree_listing(path).map_err(|e| damaged(name, format!("{name}: {e}")))?;
    let now = crate::cache::listing_digest(&listing);
    if now == expected {
        return Ok(());
    }
    let mut f = damaged(
        name,
        format!("{name}: the unpacked files have tree digest {now}, not the pinned {expected}"),
    );
    if let Some(which) = super::restore::changed_packages(ctx, entry, &listing) {
        f.diagnostics[0].message = format!("{}: {which}", f.diagnostics[0].message);
    }
    Err(f)
}

/// Whether the receipt of the last full check answers for this launch: no
/// `--rehash`, and a receipt of the same digest and inputs, younger than
/// [`receipt::MAX_AGE`], taken of files with the same fingerprint.
fn receipt_answers(
    receipt: Option<&receipt::Receipt>,
    rehash: bool,
    sha256: &str,
    inputs: &str,
    now: &Fingerprint,
) -> bool {
    !rehash && receipt.is_some_and(|r| r.matches(sha256, inputs, now))
}

/// The largest file `run` fetches again from the lock (as `add`'s
/// default --max-size).
const RESTORE_MAX: u64 = 2 << 30;

/// The pinned bytes are gone or changed: a failed verification (exit 1).
fn damaged(name: &str, what: String) -> Failure {
    let mut f = Failure::input(
        Code::CacheMismatch,
        what,
        Some(format!(
            "the cached copy changed since it was pinned: `mcp-warden cache verify` shows what; `mcp-warden cache gc`, then `mcp-warden add {name} ...` again"
        )),
    );
    f.exit = 1;
    f
}

/// The file name the artifact was pinned under (for a script's
/// extension and a native program's argv[0]).
fn pinned_file_name(source: &str) -> String {
    source
        .rsplit(['/', '\\'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("server")
        .to_string()
}

/// Cache blobs are stored read-only; a native server also needs the
/// execute bit. Changing the mode changes the ctime, so the next run
/// re-hashes once.
fn ensure_executable(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o100 == 0
        {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A context with a file standing in for a pinned artifact and the
    /// receipt of its last full check.
    fn checked() -> (tempfile::TempDir, Context, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let ctx = Context::new(Some(d.path()), None, Some(d.path())).unwrap();
        let file = d.path().join("server");
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        let r = receipt::Receipt::new("a".repeat(64).as_str(), "inputs", &now(&file));
        receipt::save(&ctx, "srv", &r).unwrap();
        (d, ctx, file)
    }

    fn now(file: &std::path::Path) -> Fingerprint {
        Fingerprint::of_file(&std::fs::metadata(file).unwrap())
    }

    fn answers(ctx: &Context, file: &std::path::Path) -> bool {
        receipt_answers(
            receipt::load(ctx, "srv").as_ref(),
            false,
            &"a".repeat(64),
            "inputs",
            &now(file),
        )
    }

    /// A full check finds the entry point again in the files it found
    /// sound: the same files, reached through another path, give the
    /// same one; a file read before the check and changed since (here:
    /// which console script, or which file a package's `bin` names) does
    /// not, and the launch is refused rather than started from what was
    /// read before.
    #[test]
    fn the_entry_point_is_found_again_in_the_checked_files() {
        let path_var = std::env::var_os("PATH");
        // (files, the one changed after the entry point was found, to what)
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: [Case; 2] = [
            (
                &[
                    ("srv/__init__.py", ""),
                    ("srv/main.py", "def main():\n    pass\n"),
                    ("srv-1.0.dist-info/METADATA", "Name: srv\n"),
                    (
                        "srv-1.0.dist-info/entry_points.txt",
                        "[console_scripts]\nsrv = srv.main:main\n",
                    ),
                ],
                "srv-1.0.dist-info/entry_points.txt",
                "[console_scripts]\nsrv = code:interact\n",
            ),
            (
                &[
                    (
                        "package/package.json",
                        r#"{"name":"srv","version":"1.0.0","bin":"index.js"}"#,
                    ),
                    ("package/index.js", ""),
                    ("package/other.js", ""),
                ],
                "package/package.json",
                r#"{"name":"srv","version":"1.0.0","bin":"other.js"}"#,
            ),
        ];
        for (files, changed, to) in cases {
            let d = tempfile::tempdir().unwrap();
            let root = d.path().join("tree");
            for (p, text) in files {
                let p = root.join(p);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, text).unwrap();
            }
            let rules = policy::RunRules::default();
            let found = entry::resolve(Artifact::Tree(&root), &rules, path_var.as_deref()).unwrap();
            let derived = Derivation {
                root: root.clone(),
                pinned_name: String::new(),
                rules,
                path_var: path_var.clone(),
                found,
            };
            let other = d.path().join("other-path");
            std::os::unix::fs::symlink(&root, &other).unwrap();
            assert_eq!(derived.holds(&other, true), Ok(()), "{changed}");
            std::fs::write(root.join(changed), to).unwrap();
            let e = derived.holds(&other, true).unwrap_err();
            assert!(e.contains("is not the checked files'"), "{changed}: {e}");
        }
    }

    #[test]
    fn a_fresh_receipt_of_the_same_files_spares_the_check() {
        let (_d, ctx, file) = checked();
        assert!(answers(&ctx, &file));
        // --rehash, another digest, other inputs (policy, trust, entry).
        let sha = "a".repeat(64);
        assert!(!receipt_answers(
            receipt::load(&ctx, "srv").as_ref(),
            true,
            &sha,
            "inputs",
            &now(&file)
        ));
        assert!(!receipt_answers(
            receipt::load(&ctx, "srv").as_ref(),
            false,
            &"b".repeat(64),
            "inputs",
            &now(&file)
        ));
        assert!(!receipt_answers(
            receipt::load(&ctx, "srv").as_ref(),
            false,
            &sha,
            "other",
            &now(&file)
        ));
        // No receipt at all.
        receipt::remove(&ctx, "srv");
        assert!(!answers(&ctx, &file));
    }

    #[test]
    fn a_receipt_older_than_a_day_is_stale() {
        let (_d, ctx, file) = checked();
        let mut r = receipt::load(&ctx, "srv").unwrap();
        r.verified = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(25)).to_string();
        receipt::save(&ctx, "srv", &r).unwrap();
        assert!(!answers(&ctx, &file));
    }

    #[test]
    fn changed_files_make_the_receipt_stale() {
        // The mode (and with it the ctime).
        let (_d, ctx, file) = checked();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!answers(&ctx, &file));
        // The size.
        let (_d, ctx, file) = checked();
        std::fs::write(&file, "#!/bin/sh\nexit 1\n").unwrap();
        assert!(!answers(&ctx, &file));
        // The mtime alone.
        let (_d, ctx, file) = checked();
        let f = std::fs::File::options().write(true).open(&file).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert!(!answers(&ctx, &file));
        // Same size, mtime set back: the ctime still tells.
        let (_d, ctx, file) = checked();
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&file, "#!/bin/sh\r").unwrap();
        let f = std::fs::File::options().write(true).open(&file).unwrap();
        f.set_modified(mtime).unwrap();
        assert!(!answers(&ctx, &file));
    }
}
