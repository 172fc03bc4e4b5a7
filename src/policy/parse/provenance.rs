//! `[servers.provenance]` and `[servers.identity]`.

use std::ops::Range;

use toml::de::DeTable;

use super::Parser;
use crate::diag::Code;
use crate::policy::{At, IdentityClaims, ProvenanceRules};

impl Parser<'_> {
    pub(super) fn provenance_rules(
        &mut self,
        t: &DeTable,
        span: Range<usize>,
    ) -> Option<ProvenanceRules> {
        self.check_keys(
            t,
            &["builder-id", "source-repo", "source-ref", "build-type"],
            "[servers.provenance]",
        );
        // A single string or a list, for builder-id and build-type.
        let list = |p: &mut Self, key: &str| -> Vec<At<String>> {
            match Self::get(t, key) {
                Some((_, v)) if v.get_ref().as_str().is_some() => {
                    p.string(t, key).into_iter().collect()
                }
                Some(_) => p
                    .strings(t, key)
                    .map(|(_, items)| items)
                    .unwrap_or_default(),
                None => Vec::new(),
            }
        };
        let builder_id: Vec<(String, globset::GlobMatcher)> = list(self, "builder-id")
            .into_iter()
            .filter_map(|b| self.glob_or_report(&b).map(|g| (b.value, g)))
            .collect();
        let build_type = list(self, "build-type")
            .into_iter()
            .map(|b| b.value)
            .collect();
        let source_repo = self.string(t, "source-repo").map(|r| r.value);
        let source_ref = self
            .string(t, "source-ref")
            .and_then(|r| self.path_glob_or_report(&r).map(|g| (r.value, g)));
        Some(ProvenanceRules {
            builder_id,
            source_repo,
            source_ref,
            build_type,
            loc: self.loc(span),
        })
    }

    pub(super) fn identity_claims(
        &mut self,
        t: &DeTable,
        span: Range<usize>,
    ) -> Option<IdentityClaims> {
        self.check_keys(t, &["repository", "ref", "workflow"], "[servers.identity]");
        let repository = self.string(t, "repository").map(|r| r.value);
        let glob = |p: &mut Self, key: &str| -> (Option<globset::GlobMatcher>, Option<String>) {
            match p.string(t, key) {
                None => (None, None),
                Some(v) => match p.path_glob_or_report(&v) {
                    Some(g) => (Some(g), Some(v.value)),
                    None => (None, None),
                },
            }
        };
        let (git_ref, git_ref_text) = glob(self, "ref");
        let (workflow, workflow_text) = glob(self, "workflow");
        if repository.is_none() && git_ref_text.is_none() && workflow_text.is_none() {
            self.error(
                Code::PolicyType,
                span.clone(),
                "`[servers.identity]` names no claim",
                "give at least one of `repository`, `ref`, `workflow`",
            );
            return None;
        }
        Some(IdentityClaims {
            repository,
            git_ref,
            git_ref_text,
            workflow,
            workflow_text,
            loc: self.loc(span),
        })
    }
}
