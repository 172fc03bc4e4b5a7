//! Man pages and shell completions rendered from the clap definition, and
//! mcp-warden-policy(5) from docs/src/policy.md. The checked-in copies
//! under `man/` and `completions/` are compared with these by a test,
//! which rewrites them when MCP_WARDEN_REGENERATE=1.

use clap::CommandFactory;

use super::Cli;
use crate::diag::Code;

/// The reference for the policy file; its man page is rendered from it so
/// that the two cannot drift apart.
const POLICY_MD: &str = include_str!("../../docs/src/policy.md");

const SOURCE: &str = concat!("mcp-warden ", env!("CARGO_PKG_VERSION"));

/// The full command, with the diagnostic codes put in front of `verify`'s
/// long help so the man page documents every code.
pub fn command() -> clap::Command {
    let mut codes = String::from("Diagnostic codes:\n");
    for c in Code::ALL {
        codes.push_str(&format!("  {}\n      {}\n", c.as_str(), c.doc()));
    }
    Cli::command().mut_subcommand("verify", move |v| {
        let rest = v
            .get_after_long_help()
            .map(ToString::to_string)
            .unwrap_or_default();
        v.after_long_help(format!("{codes}\n{rest}"))
    })
}

/// (relative path, contents) of every generated file.
pub fn render() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let root = command();
    man_pages(&root, "mcp-warden", None, &mut out);
    out.push(("man/mcp-warden-policy.5".into(), policy_page(POLICY_MD)));
    for (shell, file) in [
        (clap_complete::Shell::Bash, "mcp-warden.bash"),
        (clap_complete::Shell::Zsh, "_mcp-warden"),
        (clap_complete::Shell::Fish, "mcp-warden.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut command(), "mcp-warden", &mut buf);
        out.push((format!("completions/{file}"), buf));
    }
    out
}

fn man_pages(
    cmd: &clap::Command,
    name: &str,
    parent: Option<&str>,
    out: &mut Vec<(String, Vec<u8>)>,
) {
    // The headed blocks of the long help ("Examples:", "Exit status:")
    // become sections of their own, rendered below; clap_mangen would put
    // them all under one EXTRA heading.
    let after = cmd.get_after_long_help().map(ToString::to_string);
    let page = cmd
        .clone()
        .name(name.to_string())
        .display_name(name.to_string())
        .after_long_help(None::<&str>)
        .after_help(None::<&str>)
        // `help` has no page of its own.
        .disable_help_subcommand(true);
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .date("")
        .source(SOURCE)
        .render(&mut buf)
        .expect("rendering into memory cannot fail");
    let mut text = String::from_utf8(buf).expect("clap_mangen writes UTF-8");

    let mut extra = after.as_deref().map(sections).unwrap_or_default();
    let mut see_also: Vec<String> = parent.map(|p| format!("{p}(1)")).into_iter().collect();
    see_also.push("mcp-warden-policy(5)".into());
    extra.push_str(&see_also_section(&see_also));
    // Before VERSION, which man pages put last.
    match text.find("\n.SH VERSION\n") {
        Some(i) => text.insert_str(i + 1, &extra),
        None => text.push_str(&extra),
    }
    out.push((format!("man/{name}.1"), text.into_bytes()));

    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        man_pages(sub, &format!("{name}-{}", sub.get_name()), Some(name), out);
    }
}

/// Long help after the options, as man page sections: a line `Heading:`
/// at the margin starts section HEADING, whose lines are kept as laid out.
fn sections(text: &str) -> String {
    let mut out = String::new();
    let mut heading = "NOTES".to_string();
    let mut body: Vec<&str> = Vec::new();
    for line in text.lines() {
        if !line.is_empty() && !line.starts_with(' ') && line.ends_with(':') {
            preformatted_section(&mut out, &heading, &body);
            heading = line.trim_end_matches(':').to_uppercase();
            body.clear();
        } else {
            body.push(line);
        }
    }
    preformatted_section(&mut out, &heading, &body);
    out
}

fn preformatted_section(out: &mut String, heading: &str, body: &[&str]) {
    let first = body.iter().position(|l| !l.trim().is_empty());
    let last = body.iter().rposition(|l| !l.trim().is_empty());
    let (Some(first), Some(last)) = (first, last) else {
        return;
    };
    let body = &body[first..=last];
    // The man page indents sections already.
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    out.push_str(&format!(".SH \"{heading}\"\n.nf\n"));
    for line in body {
        out.push_str(&escape_line(line.get(indent..).unwrap_or("")));
        out.push('\n');
    }
    out.push_str(".fi\n");
}

fn see_also_section(pages: &[String]) -> String {
    let refs: Vec<String> = pages
        .iter()
        .map(|p| {
            let (name, section) = p.split_once('(').unwrap_or((p, ""));
            format!("\\fB{}\\fR({section}", escape(name))
        })
        .collect();
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", "))
}

/// Text for roff: backslashes, dashes and apostrophes escaped (the
/// apostrophe string `Aq` is defined by every page's preamble).
fn escape(text: &str) -> String {
    text.replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('\'', "\\*(Aq")
}

/// One input line: escaped, and never read as a request.
fn escape_line(line: &str) -> String {
    let line = escape(line);
    if line.starts_with('.') {
        format!("\\&{line}")
    } else {
        line
    }
}

/// mcp-warden-policy(5) from the Markdown of docs/src/policy.md: its first
/// heading is the title, `##` headings are sections, and the rest
/// (paragraphs, `-` lists, fenced code, `code` and **bold**) goes under
/// DESCRIPTION.
fn policy_page(markdown: &str) -> Vec<u8> {
    let mut out = String::from(".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n");
    out.push_str(&format!(".TH mcp-warden-policy 5 \"\" \"{SOURCE}\"\n"));
    out.push_str(".SH NAME\nmcp\\-warden\\-policy \\- the policy file of mcp\\-warden\n");
    out.push_str(
        ".SH SYNOPSIS\n\\fBconfig/policy.toml\\fR under the home, or the file given with \
         \\fB\\-\\-policy\\fR; \\fB/etc/mcp\\-warden/policy.toml\\fR for the system\n",
    );
    out.push_str(".SH DESCRIPTION\n");
    out.push_str(&markdown_to_roff(markdown));
    out.push_str(&see_also_section(&[
        "mcp-warden(1)".into(),
        "mcp-warden-policy(1)".into(),
        "mcp-warden-policy-check(1)".into(),
        "mcp-warden-policy-explain(1)".into(),
    ]));
    out.into_bytes()
}

/// The Markdown that docs/src/*.md use, as man macros.
fn markdown_to_roff(markdown: &str) -> String {
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    // Inside a `-` item: later paragraphs and code keep its indent.
    let mut in_item = false;
    // The indent of the open code fence, if one is open.
    let mut fence: Option<usize> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(fence_indent) = fence {
            if trimmed.starts_with("```") {
                out.push_str(".fi\n");
                fence = None;
            } else {
                let text = line.get(fence_indent.min(indent)..).unwrap_or("");
                out.push_str(&escape_line(text));
                out.push('\n');
            }
            continue;
        }
        if trimmed.starts_with("```") {
            flush(&mut out, &mut para);
            in_item &= indent > 0;
            out.push_str(if in_item { ".IP \"\" 2\n" } else { ".PP\n" });
            out.push_str(".nf\n");
            fence = Some(indent);
        } else if line.starts_with("# ") {
            // The title: the page's NAME says it.
        } else if let Some(h) = line.strip_prefix("## ") {
            flush(&mut out, &mut para);
            in_item = false;
            out.push_str(&format!(".SH \"{}\"\n", escape(&h.to_uppercase())));
        } else if let Some(h) = line.strip_prefix("### ") {
            flush(&mut out, &mut para);
            in_item = false;
            out.push_str(&format!(".SS \"{}\"\n", escape(h)));
        } else if trimmed.is_empty() {
            flush(&mut out, &mut para);
        } else if let Some(item) = line.strip_prefix("- ") {
            flush(&mut out, &mut para);
            in_item = true;
            out.push_str(".IP \\(bu 2\n");
            para.push(item);
        } else {
            if para.is_empty() && !out.ends_with(".IP \\(bu 2\n") {
                in_item &= indent > 0;
                out.push_str(if in_item { ".IP \"\" 2\n" } else { ".PP\n" });
            }
            para.push(trimmed);
        }
    }
    flush(&mut out, &mut para);
    out
}

/// Writes a paragraph's lines with `code` and **bold** in bold and links
/// reduced to their text.
fn flush(out: &mut String, para: &mut Vec<&str>) {
    if para.is_empty() {
        return;
    }
    let text = para.join("\n");
    para.clear();
    let link = regex::Regex::new(r"\[([^\]]+)\]\([^)]+\)").expect("a valid pattern");
    let text = link.replace_all(&text, "$1");
    let (mut code, mut bold) = (false, false);
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let toggled = match c {
            '`' => {
                code = !code;
                true
            }
            '*' if !code && chars.peek() == Some(&'*') => {
                chars.next();
                bold = !bold;
                true
            }
            _ => false,
        };
        if toggled {
            line.push_str(if code || bold { "\\fB" } else { "\\fR" });
        } else if c == '\n' {
            out.push_str(&escape_line_start(&line));
            out.push('\n');
            line.clear();
        } else {
            line.push_str(&escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    out.push_str(&escape_line_start(&line));
    out.push('\n');
}

fn escape_line_start(line: &str) -> String {
    if line.starts_with('.') {
        format!("\\&{line}")
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> Vec<(String, String)> {
        render()
            .into_iter()
            .filter(|(p, _)| p.starts_with("man/"))
            .map(|(p, b)| (p, String::from_utf8(b).unwrap()))
            .collect()
    }

    #[test]
    fn every_command_page_has_a_description_and_examples() {
        for (path, text) in pages().iter().filter(|(p, _)| p.ends_with(".1")) {
            assert!(text.contains(".SH DESCRIPTION\n"), "{path}");
            assert!(text.contains(".SH \"EXAMPLES\"\n.nf\n"), "{path}");
            assert!(text.contains(".SH \"SEE ALSO\""), "{path}");
            assert!(!text.contains(".SH EXTRA"), "{path}");
            assert!(!text.contains("mcp\\-warden\\-help(1)"), "{path}");
        }
    }

    #[test]
    fn the_top_page_starts_on_the_main_job() {
        let pages = pages();
        let top = &pages
            .iter()
            .find(|(p, _)| p == "man/mcp-warden.1")
            .unwrap()
            .1;
        let order: Vec<usize> = ["add", "run", "client", "verify"]
            .iter()
            .map(|c| top.find(&format!("mcp\\-warden\\-{c}(1)")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(!top.contains("Start with"));
    }

    #[test]
    fn the_policy_page_carries_the_reference() {
        let pages = pages();
        let page = &pages
            .iter()
            .find(|(p, _)| p == "man/mcp-warden-policy.5")
            .unwrap()
            .1;
        assert!(page.starts_with(".ie \\n(.g .ds Aq \\(aq\n"));
        assert!(page.contains(".TH mcp-warden-policy 5 "));
        // The example file, verbatim apart from escapes, and the rules.
        assert!(page.contains(".nf\nversion = 1\n"));
        assert!(page.contains("[servers.run]"));
        assert!(page.contains("\\fBLayers only tighten.\\fR"));
        assert!(!page.contains("```"));
        assert!(!page.contains("**"));
        // Every line is text or a request the page means.
        for line in page.lines() {
            assert!(!line.starts_with('\''), "{line}");
            if let Some(req) = line.strip_prefix('.') {
                let name = req.split(' ').next().unwrap();
                assert!(
                    ["ie", "el", "TH", "SH", "SS", "PP", "IP", "nf", "fi"].contains(&name),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn markdown_inline_forms() {
        let roff = markdown_to_roff("A `x-y` and **b `c`** [l](u.md).\n\n- item\n  more\n");
        assert_eq!(
            roff,
            ".PP\nA \\fBx\\-y\\fR and \\fBb \\fBc\\fB\\fR l.\n.IP \\(bu 2\nitem\nmore\n"
        );
    }
}
