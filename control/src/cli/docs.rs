//! Shell completions and man pages generated from the CLI definition (the binary's
//! `clap::Command`), so they never drift from what `vpcctl` accepts:
//! `vpcctl completions bash|zsh|fish` and `vpcctl man [VERB] [--dir DIR]`.

use clap::Command;

/// A shell `vpcctl completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    /// Bash (`source <(vpcctl completions bash)`, or a file in
    /// `/usr/share/bash-completion/completions/vpcctl`).
    Bash,
    /// Zsh (a file `_vpcctl` in a directory of `$fpath`).
    Zsh,
    /// Fish (`~/.config/fish/completions/vpcctl.fish`).
    Fish,
}

impl From<CompletionShell> for clap_complete::Shell {
    fn from(s: CompletionShell) -> Self {
        match s {
            CompletionShell::Bash => clap_complete::Shell::Bash,
            CompletionShell::Zsh => clap_complete::Shell::Zsh,
            CompletionShell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// The completion script of `cmd` for `shell`.
pub fn completions(cmd: &mut Command, shell: CompletionShell) -> String {
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(clap_complete::Shell::from(shell), cmd, name, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// One generated man page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManPage {
    /// Its file name: `vpcctl.1`, `vpcctl-validate.1`, ….
    pub file_name: String,
    /// Its roff source.
    pub text: String,
}

/// Why a man page could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    /// No such verb.
    #[error("no verb `{verb}`; verbs: {known}")]
    UnknownVerb {
        /// The verb asked for.
        verb: String,
        /// The verbs there are, comma-separated.
        known: String,
    },
    /// Rendering failed (writing to memory; not expected).
    #[error("rendering the man page")]
    Render(#[from] std::io::Error),
}

/// A section added to the main page after the generated ones, e.g. `EXIT STATUS`.
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    /// The heading, upper case.
    pub title: &'a str,
    /// The body, kept line by line (no filling).
    pub body: &'a str,
}

/// The man pages of `cmd`: the main page (with `extra` sections at the end) and one page
/// per visible verb (`vpcctl-VERB.1`, with its examples).
pub fn man_pages(cmd: Command, extra: &[Section<'_>]) -> Result<Vec<ManPage>, DocsError> {
    let cmd = built(cmd);
    let mut pages = vec![render_page(&cmd, extra, None)?];
    for sub in visible_verbs(&cmd) {
        pages.push(render_page(sub, &[], Some(&cmd))?);
    }
    Ok(pages)
}

/// One man page: the main page (`verb` None, with `extra`), or a verb's.
pub fn man_page(
    cmd: Command,
    verb: Option<&str>,
    extra: &[Section<'_>],
) -> Result<ManPage, DocsError> {
    let cmd = built(cmd);
    let Some(verb) = verb else {
        return render_page(&cmd, extra, None);
    };
    let found = visible_verbs(&cmd).find(|s| s.get_name() == verb);
    match found {
        Some(sub) => render_page(sub, &[], Some(&cmd)),
        None => Err(DocsError::UnknownVerb {
            verb: verb.to_string(),
            known: visible_verbs(&cmd)
                .map(Command::get_name)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The command with global arguments propagated and display names (`vpcctl-validate`)
/// set, as clap_mangen expects; without the `help` verb.
fn built(cmd: Command) -> Command {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn visible_verbs(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

/// Renders one page; `parent` is the main command, for a verb's page.
fn render_page(
    cmd: &Command,
    extra: &[Section<'_>],
    parent: Option<&Command>,
) -> Result<ManPage, DocsError> {
    let mut man = clap_mangen::Man::new(cmd.clone());
    if let Some(parent) = parent {
        // The footer names the program, not the verb.
        man = man.source(format!(
            "{} {}",
            parent.get_name(),
            parent.get_version().unwrap_or_default()
        ));
    }
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if visible_verbs(cmd).next().is_some() {
        man.render_subcommands_section(&mut out)?;
    }
    let mut text = once_preamble(&String::from_utf8_lossy(&out));
    if let Some(after) = cmd.get_after_help() {
        // The verbs' after_help are their examples: "Example:\n  vpcctl …".
        let after = after.to_string();
        let body = match after.split_once('\n') {
            Some((first, rest)) if first.starts_with("Example") => rest,
            _ => after.as_str(),
        };
        text.push_str(&preformatted_section("EXAMPLES", body));
    }
    for s in extra {
        text.push_str(&preformatted_section(s.title, s.body));
    }
    if let Some(parent) = parent {
        let see_also = format!("{}(1)", parent.get_name());
        text.push_str(&preformatted_section("SEE ALSO", &see_also));
    }
    if cmd.get_version().is_some() {
        let mut v = Vec::new();
        man.render_version_section(&mut v)?;
        text.push_str(&String::from_utf8_lossy(&v).replace(PREAMBLE, ""));
    }
    Ok(ManPage {
        file_name: man.get_filename(),
        text,
    })
}

/// What clap_mangen writes before every section it renders (the definition of the `Aq`
/// string); needed once per page.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// `roff` with [`PREAMBLE`] kept at its first place only.
fn once_preamble(roff: &str) -> String {
    match roff.find(PREAMBLE) {
        Some(i) => {
            let (head, tail) = roff.split_at(i + PREAMBLE.len());
            format!("{head}{}", tail.replace(PREAMBLE, ""))
        }
        None => roff.to_string(),
    }
}

/// A roff section whose body keeps its lines as written (`.nf` … `.fi`).
fn preformatted_section(title: &str, body: &str) -> String {
    let mut s = format!(".SH \"{}\"\n.nf\n", title.replace('"', ""));
    for line in body.lines() {
        s.push_str(&roff_line(line));
        s.push('\n');
    }
    s.push_str(".fi\n");
    s
}

/// One line of text for roff: backslashes and minus signs escaped, and a leading `.` or
/// `'` (a request) neutralised.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn demo() -> Command {
        Command::new("demo")
            .version("1.0")
            .about("A demo tool")
            .arg(
                Arg::new("socket")
                    .long("socket")
                    .global(true)
                    .help("The socket"),
            )
            .subcommand(
                Command::new("check")
                    .about("Check a file")
                    .arg(Arg::new("file").required(true))
                    .arg(Arg::new("json").long("json").action(ArgAction::SetTrue))
                    .after_help("Example:\n  demo check a.toml --json"),
            )
            .subcommand(Command::new("down").about("Stop it"))
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn completions_name_every_verb() {
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
        ] {
            let script = completions(&mut demo(), shell);
            // (fish writes options as `-l json`)
            for needle in ["check", "down", "json", "socket"] {
                assert!(
                    script.contains(needle),
                    "{shell:?} lacks {needle}:\n{script}"
                );
            }
        }
    }

    #[test]
    fn main_page_has_title_verbs_and_extra_sections() {
        let page = man_page(
            demo(),
            None,
            &[Section {
                title: "EXIT STATUS",
                body: "0  success\n2  error: see --help",
            }],
        )
        .unwrap();
        assert_eq!(page.file_name, "demo.1");
        let t = &page.text;
        assert!(t.contains("\n.TH demo 1 "), "{t}");
        assert_eq!(t.matches(PREAMBLE).count(), 1, "{t}");
        for needle in [
            ".SH SUBCOMMANDS",
            "demo\\-check(1)",
            "demo\\-down(1)",
            ".SH \"EXIT STATUS\"\n.nf\n0  success\n2  error: see \\-\\-help\n.fi\n",
            ".SH VERSION",
        ] {
            assert!(t.contains(needle), "missing {needle}:\n{t}");
        }
        assert!(!t.contains("secret"), "{t}");
        assert!(!t.contains("help(1)"), "{t}");
    }

    #[test]
    fn verb_pages_have_options_examples_and_the_global_socket() {
        let pages = man_pages(demo(), &[]).unwrap();
        let names: Vec<&str> = pages.iter().map(|p| p.file_name.as_str()).collect();
        assert_eq!(names, ["demo.1", "demo-check.1", "demo-down.1"]);
        let check = &pages[1].text;
        for needle in [
            ".TH demo-check 1  \"demo 1.0\"",
            "\\-\\-json",
            "\\-\\-socket",
            ".SH \"EXAMPLES\"\n.nf\n  demo check a.toml \\-\\-json\n.fi\n",
            ".SH \"SEE ALSO\"\n.nf\ndemo(1)\n.fi\n",
        ] {
            assert!(check.contains(needle), "missing {needle}:\n{check}");
        }
        let err = man_page(demo(), Some("nope"), &[]).unwrap_err();
        assert_eq!(err.to_string(), "no verb `nope`; verbs: check, down");
    }

    #[test]
    fn roff_lines_are_escaped() {
        assert_eq!(roff_line(".hidden"), "\\&.hidden");
        assert_eq!(roff_line("'quote"), "\\&'quote");
        assert_eq!(roff_line("a\\b --x"), "a\\eb \\-\\-x");
    }
}
