//! Progress reporting for long work: a bar on a terminal, nothing when quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How training reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// A progress bar on stderr when it is a terminal (hidden otherwise).
    #[default]
    Bar,
    /// Nothing.
    Quiet,
}

impl Progress {
    /// A bar over `len` steps, or a hidden one.
    pub(crate) fn bar(self, len: u64, what: &str) -> ProgressBar {
        match self {
            Progress::Quiet => ProgressBar::hidden(),
            Progress::Bar => {
                let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} epochs  {msg}",
                ) {
                    bar.set_style(style);
                }
                bar.set_prefix(what.to_owned());
                bar
            }
        }
    }
}
