//! The checked-in man pages and completions are what the clap definition
//! renders. `MCP_WARDEN_REGENERATE=1 cargo test --test tests docs`
//! rewrites them.

use std::fs;
use std::path::Path;

const STALE: &str = "man pages are stale: run MCP_WARDEN_REGENERATE=1 cargo test --test tests docs";

#[test]
fn man_pages_and_completions_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rendered = mcp_warden::cli::docs::render();
    assert!(rendered.iter().any(|(p, _)| p == "man/mcp-warden.1"));
    assert!(rendered.iter().any(|(p, _)| p == "man/mcp-warden-verify.1"));
    assert!(rendered.iter().any(|(p, _)| p.starts_with("completions/")));
    let regenerate = std::env::var_os("MCP_WARDEN_REGENERATE").is_some_and(|v| v == "1");

    if regenerate {
        for dir in ["man", "completions"] {
            // Drop pages of subcommands that no longer exist.
            if let Ok(entries) = fs::read_dir(root.join(dir)) {
                for e in entries {
                    let e = e.unwrap();
                    let rel = format!("{dir}/{}", e.file_name().to_string_lossy());
                    if !rendered.iter().any(|(p, _)| *p == rel) {
                        fs::remove_file(e.path()).unwrap();
                    }
                }
            }
        }
        for (rel, bytes) in &rendered {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            if fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
                fs::write(&path, bytes).unwrap();
                eprintln!("wrote {rel}");
            }
        }
        return;
    }

    let mut problems = Vec::new();
    for (rel, bytes) in &rendered {
        match fs::read(root.join(rel)) {
            Ok(existing) if existing == *bytes => {}
            Ok(_) => problems.push(format!("{rel} differs from what the CLI renders")),
            Err(e) => problems.push(format!("{rel}: {e}")),
        }
    }
    for dir in ["man", "completions"] {
        for e in fs::read_dir(root.join(dir)).into_iter().flatten() {
            let rel = format!("{dir}/{}", e.unwrap().file_name().to_string_lossy());
            if !rendered.iter().any(|(p, _)| *p == rel) {
                problems.push(format!("{rel} is not rendered by the CLI any more"));
            }
        }
    }
    assert!(problems.is_empty(), "{STALE}\n  {}", problems.join("\n  "));
}

#[test]
fn man_page_documents_every_diagnostic_code() {
    let rendered = mcp_warden::cli::docs::render();
    let verify = rendered
        .iter()
        .find(|(p, _)| p == "man/mcp-warden-verify.1")
        .expect("verify's page");
    let text = String::from_utf8_lossy(&verify.1);
    for code in mcp_warden::diag::Code::ALL {
        // roff escapes `-` as `\-`.
        let escaped = code.as_str().replace('-', "\\-");
        assert!(
            text.contains(code.as_str()) || text.contains(&escaped),
            "the verify man page does not mention {code}"
        );
    }
}
