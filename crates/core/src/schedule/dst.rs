//! A cron job's own DST policy (DESIGN.md, *Definitions you can trust*): what a local time in a
//! spring-forward gap does (`shift` to the first instant after the gap, or `skip`), and which
//! instants of a local time in a fall-back fold fire (`first`, `last` or `both`). Without one,
//! the Time rules apply: a gap shifts, and a fold fires once (first) for fixed-hour schedules
//! and twice (both) for schedules that repeat every hour or faster.

use std::fmt;
use std::str::FromStr;

/// What a local time in a spring-forward gap does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Gap {
    /// Fires once at the first instant after the gap (several gap times collapse onto it).
    #[default]
    Shift,
    /// Does not fire: the local time does not exist that day.
    Skip,
}

/// Which instants of a local time that a fall-back fold repeats fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fold {
    /// The first (in the earlier offset).
    First,
    /// The second (in the later offset).
    Last,
    /// Both.
    Both,
}

/// A cron trigger's DST policy; the default is DESIGN.md's Time rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DstPolicy {
    /// The gap rule.
    pub gap: Gap,
    /// The fold rule; `None`: first for fixed-hour schedules, both for the others.
    pub fold: Option<Fold>,
}

impl DstPolicy {
    /// The fold rule in force for a schedule (`fixed_hour`: its hours are fixed values).
    pub fn fold_for(&self, fixed_hour: bool) -> Fold {
        self.fold
            .unwrap_or(if fixed_hour { Fold::First } else { Fold::Both })
    }

    /// Whether this is the default (nothing of its own to store or show).
    pub fn is_default(&self) -> bool {
        *self == DstPolicy::default()
    }
}

impl Gap {
    /// `shift` or `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Gap::Shift => "shift",
            Gap::Skip => "skip",
        }
    }
}

impl Fold {
    /// `first`, `last` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fold::First => "first",
            Fold::Last => "last",
            Fold::Both => "both",
        }
    }
}

impl FromStr for Gap {
    type Err = String;
    fn from_str(text: &str) -> Result<Gap, String> {
        match text {
            "shift" => Ok(Gap::Shift),
            "skip" => Ok(Gap::Skip),
            other => Err(format!("must be `shift` or `skip`, got `{other}`")),
        }
    }
}

impl FromStr for Fold {
    type Err = String;
    fn from_str(text: &str) -> Result<Fold, String> {
        match text {
            "first" => Ok(Fold::First),
            "last" => Ok(Fold::Last),
            "both" => Ok(Fold::Both),
            other => Err(format!("must be `first`, `last` or `both`, got `{other}`")),
        }
    }
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Fold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_round_trip_and_defaults_follow_the_time_rules() {
        for gap in [Gap::Shift, Gap::Skip] {
            assert_eq!(gap.as_str().parse::<Gap>(), Ok(gap));
        }
        for fold in [Fold::First, Fold::Last, Fold::Both] {
            assert_eq!(fold.as_str().parse::<Fold>(), Ok(fold));
        }
        assert_eq!(
            "later".parse::<Fold>(),
            Err("must be `first`, `last` or `both`, got `later`".to_string())
        );
        let default = DstPolicy::default();
        assert_eq!(
            (default.fold_for(true), default.fold_for(false)),
            (Fold::First, Fold::Both)
        );
        assert!(default.is_default());
    }
}
