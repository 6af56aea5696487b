//! Which channels can show a lateral spread response for a stimulus, and which show the
//! direct response.
//!
//! Stimulating one branch of the facial nerve makes that branch's own muscles answer directly
//! (the M response, 3-5 ms). In hemifacial spasm the impulse also crosses to the *other*
//! branch at the compression site, so that branch's muscles answer too: the LSR (~10 ms).
//!
//! - zygomatic/temporal -> direct: orbicularis oculi, frontalis; LSR: mentalis, orbicularis oris
//! - marginal mandibular, buccal -> direct: mentalis, orbicularis oris; LSR: orbicularis oculi
//!
//! A site configuration may override the map (`[anatomy]` in the TOML file).

use serde::{Deserialize, Serialize};

use crate::model::{Branch, ChannelInfo, Muscle, Role};

/// Where responses to one branch's stimulation appear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchMap {
    pub branch: Branch,
    /// Muscles in which an LSR can appear.
    pub lsr: Vec<Muscle>,
    /// Muscles that give the direct response.
    pub direct: Vec<Muscle>,
}

/// The anatomy used to pick LSR and direct-response channels per stimulus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anatomy {
    pub branches: Vec<BranchMap>,
}

impl Default for Anatomy {
    fn default() -> Self {
        use Muscle::*;
        Self {
            branches: vec![
                BranchMap {
                    branch: Branch::Zygomatic,
                    lsr: vec![Mentalis, OrbicularisOris],
                    direct: vec![OrbicularisOculi, Frontalis],
                },
                BranchMap {
                    branch: Branch::MarginalMandibular,
                    lsr: vec![OrbicularisOculi],
                    direct: vec![Mentalis, OrbicularisOris],
                },
                BranchMap {
                    branch: Branch::Buccal,
                    lsr: vec![OrbicularisOculi],
                    direct: vec![Mentalis, OrbicularisOris],
                },
            ],
        }
    }
}

/// The channels to analyse for one branch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BranchChannels {
    /// Channel indices where an LSR can appear.
    pub lsr: Vec<usize>,
    /// Channel indices that show the direct response.
    pub direct: Vec<usize>,
}

impl Anatomy {
    /// Map of one branch, if the anatomy knows it.
    pub fn branch(&self, branch: Branch) -> Option<&BranchMap> {
        self.branches.iter().find(|b| b.branch == branch)
    }

    /// Resolves the EMG channels of a source into LSR and direct channels for `branch`.
    pub fn channels_for(&self, branch: Branch, channels: &[ChannelInfo]) -> BranchChannels {
        let mut out = BranchChannels::default();
        let Some(map) = self.branch(branch) else {
            return out;
        };
        for (i, ch) in channels.iter().enumerate() {
            if ch.role != Role::Emg {
                continue;
            }
            if map.lsr.contains(&ch.muscle) {
                out.lsr.push(i);
            } else if map.direct.contains(&ch.muscle) {
                out.direct.push(i);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(label: &str, muscle: Muscle, role: Role) -> ChannelInfo {
        ChannelInfo {
            label: label.into(),
            muscle,
            role,
            volts_per_unit: 1e-6,
            offset_volts: 0.0,
            range_units: None,
            trigger_branch: None,
        }
    }

    #[test]
    fn zygomatic_stimulus_looks_for_lsr_in_the_lower_face() {
        let chans = [
            ch("oculi", Muscle::OrbicularisOculi, Role::Emg),
            ch("oris", Muscle::OrbicularisOris, Role::Emg),
            ch("mentalis", Muscle::Mentalis, Role::Emg),
            ch("trigger", Muscle::None, Role::Trigger),
        ];
        let a = Anatomy::default();
        let z = a.channels_for(Branch::Zygomatic, &chans);
        assert_eq!(z.lsr, vec![1, 2]);
        assert_eq!(z.direct, vec![0]);
        let m = a.channels_for(Branch::MarginalMandibular, &chans);
        assert_eq!(m.lsr, vec![0]);
        assert_eq!(m.direct, vec![1, 2]);
        assert_eq!(
            a.channels_for(Branch::Other, &chans),
            BranchChannels::default()
        );
    }
}
