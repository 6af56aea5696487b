//! Keys to actions. The meaning of a key depends on the dialog that is open (in the marker
//! input every printable key is text, so `q` types a q), so decoding takes the current
//! [`Mode`]. Decoding changes nothing; [`DashboardState::apply_action`] does.
//!
//! Everything works from a plain keyboard over SSH: no mouse, no function keys, no chords
//! beyond Ctrl-C. The list here is also what the help overlay (`?`) shows.
//!
//! [`DashboardState::apply_action`]: super::state::DashboardState::apply_action

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::{Action, Mode};
use crate::model::SurgicalStep;

/// The keys, as the help overlay lists them: (key, what it does).
pub fn help_lines() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = SurgicalStep::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("{}", i + 1), format!("marker: {}", s.label())))
        .collect();
    v.extend(
        [
            ("m", "marker with your own words (Enter adds, Esc cancels)"),
            ("b", "re-baseline every channel (asks first)"),
            ("f", "freeze / unfreeze the waveforms (verdicts stay live)"),
            ("+ / -", "larger / smaller sweeps (uV per division)"),
            ("Tab", "next channel (Shift-Tab: previous)"),
            ("r", "write the case report so far (to the --report file)"),
            ("?", "this help (Esc closes)"),
            ("q", "quit (asks first while monitoring or recording)"),
        ]
        .iter()
        .map(|(k, d)| (k.to_string(), d.to_string())),
    );
    v
}

/// The surgical step bound to a digit key.
pub fn step_for_digit(c: char) -> Option<SurgicalStep> {
    let d = c.to_digit(10)? as usize;
    SurgicalStep::ALL.get(d.checked_sub(1)?).copied()
}

/// Decodes one key event in the given mode. Key releases and repeats of dialogs' keys are
/// ignored (only presses count).
pub fn action_for(mode: &Mode, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
    match mode {
        Mode::MarkerInput(_) => match key.code {
            _ if ctrl_c => Some(Action::Cancel),
            KeyCode::Enter => Some(Action::Submit),
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                Some(Action::TypeChar(c))
            }
            _ => None,
        },
        Mode::ConfirmQuit | Mode::ConfirmRebaseline => match key.code {
            _ if ctrl_c && *mode == Mode::ConfirmQuit => Some(Action::Confirm),
            KeyCode::Char('y' | 'Y') => Some(Action::Confirm),
            KeyCode::Char('n' | 'N') | KeyCode::Esc => Some(Action::Cancel),
            _ if ctrl_c => Some(Action::Cancel),
            _ => None,
        },
        Mode::Help => match key.code {
            KeyCode::Char('?' | 'q') | KeyCode::Esc | KeyCode::Enter => Some(Action::Cancel),
            _ => None,
        },
        Mode::Normal => match key.code {
            _ if ctrl_c => Some(Action::AskQuit),
            KeyCode::Char(c) if step_for_digit(c).is_some() => {
                step_for_digit(c).map(Action::Marker)
            }
            KeyCode::Char('m') => Some(Action::OpenMarkerInput),
            KeyCode::Char('b') => Some(Action::AskRebaseline),
            KeyCode::Char('f') => Some(Action::ToggleFreeze),
            KeyCode::Char('r') => Some(Action::ReportSoFar),
            KeyCode::Char('+' | '=') => Some(Action::Enlarge),
            KeyCode::Char('-' | '_') => Some(Action::Shrink),
            KeyCode::Tab => Some(Action::NextChannel),
            KeyCode::BackTab => Some(Action::PrevChannel),
            KeyCode::Char('?' | 'h') => Some(Action::ToggleHelp),
            KeyCode::Char('q') => Some(Action::AskQuit),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn digits_are_the_surgical_steps_in_order() {
        assert_eq!(
            action_for(&Mode::Normal, key(KeyCode::Char('1'))),
            Some(Action::Marker(SurgicalStep::Baseline))
        );
        assert_eq!(
            action_for(&Mode::Normal, key(KeyCode::Char('5'))),
            Some(Action::Marker(SurgicalStep::PadPlaced))
        );
        assert_eq!(
            action_for(&Mode::Normal, key(KeyCode::Char('7'))),
            Some(Action::Marker(SurgicalStep::DuraClosed))
        );
        assert_eq!(action_for(&Mode::Normal, key(KeyCode::Char('8'))), None);
        assert_eq!(action_for(&Mode::Normal, key(KeyCode::Char('0'))), None);
        // The help lists the same bindings.
        let help = help_lines();
        assert_eq!(help[4], ("5".to_string(), "marker: pad placed".to_string()));
    }

    #[test]
    fn keys_depend_on_the_open_dialog() {
        let q = key(KeyCode::Char('q'));
        assert_eq!(action_for(&Mode::Normal, q), Some(Action::AskQuit));
        assert_eq!(
            action_for(&Mode::MarkerInput(String::new()), q),
            Some(Action::TypeChar('q'))
        );
        assert_eq!(action_for(&Mode::Help, q), Some(Action::Cancel));
        assert_eq!(action_for(&Mode::ConfirmQuit, q), None);
        assert_eq!(
            action_for(&Mode::ConfirmQuit, key(KeyCode::Char('y'))),
            Some(Action::Confirm)
        );
        assert_eq!(
            action_for(&Mode::ConfirmRebaseline, key(KeyCode::Esc)),
            Some(Action::Cancel)
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&Mode::Normal, ctrl_c), Some(Action::AskQuit));
        assert_eq!(
            action_for(&Mode::ConfirmQuit, ctrl_c),
            Some(Action::Confirm)
        );
        assert_eq!(
            action_for(&Mode::ConfirmRebaseline, ctrl_c),
            Some(Action::Cancel)
        );
        let mut release = key(KeyCode::Char('b'));
        release.kind = KeyEventKind::Release;
        assert_eq!(action_for(&Mode::Normal, release), None);
        assert_eq!(
            action_for(&Mode::Normal, key(KeyCode::Tab)),
            Some(Action::NextChannel)
        );
        assert_eq!(
            action_for(&Mode::Normal, key(KeyCode::Char('+'))),
            Some(Action::Enlarge)
        );
        let r = key(KeyCode::Char('r'));
        assert_eq!(action_for(&Mode::Normal, r), Some(Action::ReportSoFar));
        assert_eq!(
            action_for(&Mode::MarkerInput(String::new()), r),
            Some(Action::TypeChar('r'))
        );
        assert!(help_lines().iter().any(|(k, _)| k == "r"));
    }
}
