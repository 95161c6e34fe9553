//! Progress of a CLI run on stderr: a live bar when stderr is a terminal, otherwise one plain
//! line per hole state change (for CI logs and pipes).
//!
//! Invariants: nothing is ever written to stdout (it carries diffs and reports); a hole's state
//! is printed only when it changes, so a log is a faithful, compact history; writing progress
//! never fails a run (a closed stderr is ignored). Before the first hole is counted the bar
//! says what is happening (a phase such as starting Lean or importing) with the time spent;
//! a live line too long for the terminal is shortened at a word boundary, never mid-word.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where a hole is, for progress lines: the file and the 0-based LSP start position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HoleLabel {
    /// The file.
    pub path: PathBuf,
    /// 0-based line of the hole.
    pub line: u32,
    /// 0-based UTF-16 column of the hole.
    pub character: u32,
    /// The qualified declaration name.
    pub declaration: String,
}

impl HoleLabel {
    /// A label for a hole at an LSP position.
    pub fn new(path: &Path, start: lsp_types::Position, declaration: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            line: start.line,
            character: start.character,
            declaration: declaration.to_owned(),
        }
    }
}

impl std::fmt::Display for HoleLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{} {}",
            self.path.display(),
            self.line + 1,
            self.character + 1,
            self.declaration
        )
    }
}

/// What is happening to a hole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoleState {
    /// Waiting for a worker.
    Queued,
    /// A stage is running (`tactics`, `prover 3/8`, `decomposition depth 1`, …).
    Proving(String),
    /// Proved and verified.
    Verified,
    /// Partly proved.
    Partial,
    /// Not proved.
    Failed,
    /// Not attempted.
    Skipped,
}

impl HoleState {
    /// Whether the hole is done.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Queued | Self::Proving(_))
    }
}

impl std::fmt::Display for HoleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Queued => f.write_str("queued"),
            Self::Proving(stage) => write!(f, "proving ({stage})"),
            Self::Verified => f.write_str("verified"),
            Self::Partial => f.write_str("partial"),
            Self::Failed => f.write_str("failed"),
            Self::Skipped => f.write_str("skipped"),
        }
    }
}

/// Progress reporting for one run; shareable between tasks (`&Progress` is `Send + Sync`).
pub struct Progress {
    output: Output,
    last_state: Mutex<HashMap<HoleLabel, HoleState>>,
    phase_started: Mutex<Instant>,
}

/// The bar while holes are being proved; the message is fitted to the terminal by
/// [`fit_words`], so indicatif never has to cut it.
const HOLES_TEMPLATE: &str = "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} holes  {msg}";
/// The bar before any hole is counted: what is happening, and for how long.
const PHASE_TEMPLATE: &str = "{spinner} [{elapsed_precise}] {msg}";
/// Columns of [`HOLES_TEMPLATE`] besides the counts and the message.
const HOLES_TEMPLATE_COLUMNS: usize = 1 + 1 + 10 + 1 + 30 + 1 + 1 + 8;

enum Output {
    Bar(ProgressBar),
    Lines(Mutex<Box<dyn Write + Send>>),
    Hidden,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.output {
            Output::Bar(_) => "bar",
            Output::Lines(_) => "lines",
            Output::Hidden => "hidden",
        };
        f.debug_struct("Progress").field("mode", &mode).finish()
    }
}

impl Progress {
    /// Progress on stderr: a bar over `total_holes` when stderr is a terminal, plain lines
    /// otherwise.
    pub fn for_stderr(total_holes: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(total_holes), ProgressDrawTarget::stderr());
            // Until a hole is counted there is no `n/m holes` to show, only a phase.
            bar.set_style(style(if total_holes == 0 {
                PHASE_TEMPLATE
            } else {
                HOLES_TEMPLATE
            }));
            bar.enable_steady_tick(Duration::from_millis(120));
            Self::with_output(Output::Bar(bar))
        } else {
            Self::plain(Box::new(std::io::stderr()))
        }
    }

    /// Plain lines to `writer` (one per hole state change).
    pub fn plain(writer: Box<dyn Write + Send>) -> Self {
        Self::with_output(Output::Lines(Mutex::new(writer)))
    }

    /// No output at all (`--quiet`, `--json -` to stdout).
    pub fn hidden() -> Self {
        Self::with_output(Output::Hidden)
    }

    fn with_output(output: Output) -> Self {
        Self {
            output,
            last_state: Mutex::new(HashMap::new()),
            phase_started: Mutex::new(Instant::now()),
        }
    }

    /// Says what the run is doing while no hole is being proved (starting Lean, importing a
    /// file's header): the bar shows it with the time spent; plain output prints it once.
    pub fn phase(&self, text: &str) {
        *lock(&self.phase_started) = Instant::now();
        match &self.output {
            Output::Bar(bar) => {
                bar.set_style(style(PHASE_TEMPLATE));
                bar.set_message(fit_words(text, terminal_columns().saturating_sub(16)));
            }
            Output::Lines(_) => self.line(&format!("sorryfill: {text}")),
            Output::Hidden => {}
        }
    }

    /// Ends a phase with `text` and the time the phase took, as one line on both outputs.
    pub fn phase_done(&self, text: &str) {
        let took = lock(&self.phase_started).elapsed();
        self.message(&format!("sorryfill: {text} in {:.1} s", took.as_secs_f64()));
    }

    /// Raises the number of holes the bar counts towards (files are scanned as the run goes).
    pub fn add_holes(&self, count: u64) {
        if let Output::Bar(bar) = &self.output {
            // Counted first, so the bar never shows `0/0 holes`.
            bar.inc_length(count);
            bar.set_message("");
            bar.set_style(style(HOLES_TEMPLATE));
        }
    }

    /// Records a hole's new state; prints a line (or moves the bar) only when it changed.
    pub fn update(&self, hole: &HoleLabel, state: HoleState) {
        {
            let mut last = self
                .last_state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.get(hole) == Some(&state) {
                return;
            }
            last.insert(hole.clone(), state.clone());
        }
        match &self.output {
            Output::Bar(bar) => {
                if state.is_final() {
                    bar.inc(1);
                    if state != HoleState::Verified {
                        bar.println(format!("{hole}: {state}"));
                    }
                } else {
                    let counts = format!("{}/{}", bar.position(), bar.length().unwrap_or(0));
                    let room = terminal_columns()
                        .saturating_sub(HOLES_TEMPLATE_COLUMNS + counts.chars().count());
                    bar.set_message(fit_words(&format!("{hole}: {state}"), room));
                }
            }
            Output::Lines(_) => self.line(&format!("{hole}: {state}")),
            Output::Hidden => {}
        }
    }

    /// Prints a message that is not about one hole (a file skipped, Lean restarting).
    pub fn message(&self, text: &str) {
        match &self.output {
            Output::Bar(bar) => bar.println(text),
            Output::Lines(_) => self.line(text),
            Output::Hidden => {}
        }
    }

    /// Removes the bar (the summary follows it); plain output needs nothing.
    pub fn finish(&self) {
        if let Output::Bar(bar) = &self.output {
            bar.finish_and_clear();
        }
    }

    fn line(&self, text: &str) {
        if let Output::Lines(writer) = &self.output {
            let mut writer = writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Progress is informative: a closed stderr must not stop the run.
            let _ = writeln!(writer, "{text}");
            let _ = writer.flush();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("the templates are fixed, valid indicatif templates")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The width of the terminal on stderr (80 when it cannot be read).
fn terminal_columns() -> usize {
    #[cfg(target_os = "linux")]
    if let Ok(size) = rustix::termios::tcgetwinsize(std::io::stderr())
        && size.ws_col > 0
    {
        return usize::from(size.ws_col);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse().ok())
        .unwrap_or(80)
}

/// `text` in at most `columns` characters: whole as long as it fits, otherwise cut after
/// the last whole word that fits, followed by `…`.
pub fn fit_words(text: &str, columns: usize) -> String {
    if text.chars().count() <= columns {
        return text.to_owned();
    }
    let mut fitted = String::new();
    for word in text.split(' ') {
        let separator = usize::from(!fitted.is_empty());
        // One column stays free for the ellipsis.
        if fitted.chars().count() + separator + word.chars().count() + 1 > columns {
            break;
        }
        if separator == 1 {
            fitted.push(' ');
        }
        fitted.push_str(word);
    }
    if columns > 0 {
        fitted.push('…');
    }
    fitted
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("test lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_output_prints_one_line_per_state_change() {
        let sink = Shared::default();
        let progress = Progress::plain(Box::new(sink.clone()));
        let hole = HoleLabel::new(
            Path::new("Foo.lean"),
            lsp_types::Position::new(4, 2),
            "Foo.bar",
        );
        progress.update(&hole, HoleState::Queued);
        progress.update(&hole, HoleState::Proving("tactics".to_owned()));
        progress.update(&hole, HoleState::Proving("tactics".to_owned()));
        progress.update(&hole, HoleState::Verified);
        let text = String::from_utf8(sink.0.lock().expect("test lock").clone()).expect("utf-8");
        assert_eq!(
            text,
            "Foo.lean:5:3 Foo.bar: queued\nFoo.lean:5:3 Foo.bar: proving (tactics)\nFoo.lean:5:3 Foo.bar: verified\n"
        );
    }

    #[test]
    fn a_long_line_is_cut_after_a_whole_word() {
        let line = "Foo.lean:5:3 Mathlib.Very.Long.Name: proving (prover 3/16)";
        assert_eq!(fit_words(line, 100), line);
        assert_eq!(fit_words(line, 40), "Foo.lean:5:3 Mathlib.Very.Long.Name:…");
        assert_eq!(fit_words(line, 30), "Foo.lean:5:3…");
        assert_eq!(
            fit_words(line, 45),
            "Foo.lean:5:3 Mathlib.Very.Long.Name: proving…"
        );
        assert!(fit_words(line, 20).chars().count() <= 20);
    }
}
