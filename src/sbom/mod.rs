//! Software bills of materials: CycloneDX and SPDX documents parsed into
//! one small model of what the policy needs, licence expressions, and
//! offline OSV advisories.

pub mod advisories;
