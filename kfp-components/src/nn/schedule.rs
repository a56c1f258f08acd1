//! Learning-rate schedules, evaluated per optimizer step.
//!
//! A [`ScheduleConfig`] (serde, written in epochs so that it does not depend on the batch
//! size) is turned by [`ScheduleConfig::build`] into a [`Schedule`] that knows the number of
//! steps per epoch and in all; [`Schedule::lr`] then gives the rate of step `t` (`t = 0` is
//! the first update). A schedule is a pure function of `t`, so a resumed run needs nothing
//! but the step count.
//!
//! Semantics follow PyTorch's schedulers stepped once per batch (`scheduler.step()` after
//! every `optimizer.step()`):
//!
//! - [`Decay::Constant`] keeps `lr`.
//! - [`Decay::Cosine`] is `CosineAnnealingLR(T_max = decay steps, eta_min = min_lr)`:
//!   `min_lr + (lr - min_lr) * (1 + cos(pi * t / T)) / 2`; the first step uses `lr`, the
//!   last one slightly more than `min_lr` (the benchmark recipe W3: "cosine decay to 0 over
//!   all steps").
//! - [`Decay::Step`] is `StepLR`: `lr * gamma^floor(t / every)` with `every` given in epochs.
//! - Warm-up (`warmup_epochs > 0`): `LinearLR(start_factor, total_iters = W)` chained with
//!   the decay by `SequentialLR`: for `t < W` the rate is
//!   `lr * (start + (1 - start) * t / W)`, then the decay runs over the remaining steps as if
//!   it started at `t = W`.
//!
//! ```
//! use kfp_components::nn::schedule::{Decay, ScheduleConfig};
//!
//! let config = ScheduleConfig { lr: 0.05, decay: Decay::Cosine { min_lr: 0.0 }, ..Default::default() };
//! let schedule = config.build(10, 3)?; // 10 steps per epoch, 3 epochs
//! assert_eq!(schedule.total_steps(), 30);
//! assert_eq!(schedule.lr(0), 0.05);
//! assert!((schedule.lr(15) - 0.025).abs() < 1e-7); // half-way
//! # Ok::<(), kfp_components::nn::NnError>(())
//! ```
use serde::{Deserialize, Serialize};

use super::error::NnError;

/// How the rate decays after the warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Decay {
    /// No decay.
    Constant,
    /// Cosine annealing to `min_lr` over all remaining steps.
    Cosine {
        /// The floor reached after the last step.
        #[serde(default)]
        min_lr: f32,
    },
    /// Multiply by `gamma` every `every_epochs` epochs.
    Step {
        /// Epochs between two decays (may be fractional; at least one step).
        every_epochs: f32,
        /// The factor.
        #[serde(default = "default_gamma")]
        gamma: f32,
    },
}

fn default_gamma() -> f32 {
    0.1
}
fn default_start_factor() -> f32 {
    0.1
}

/// A learning-rate schedule as configured (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// The peak (base) learning rate.
    pub lr: f32,
    /// The decay after the warm-up.
    pub decay: Decay,
    /// Epochs of linear warm-up (0: none; fractional values allowed).
    #[serde(default)]
    pub warmup_epochs: f32,
    /// The warm-up's first factor (PyTorch `LinearLR`'s `start_factor`).
    #[serde(default = "default_start_factor")]
    pub warmup_start_factor: f32,
}

impl Default for ScheduleConfig {
    /// lr 0.05, cosine decay to 0, no warm-up (benchmark recipe W3).
    fn default() -> Self {
        ScheduleConfig {
            lr: 0.05,
            decay: Decay::Cosine { min_lr: 0.0 },
            warmup_epochs: 0.0,
            warmup_start_factor: default_start_factor(),
        }
    }
}

impl ScheduleConfig {
    /// Checks the ranges, naming the offending field.
    pub fn validate(&self) -> Result<(), NnError> {
        let finite_nonneg = |name: &str, x: f32| {
            if x.is_finite() && x >= 0.0 {
                Ok(())
            } else {
                Err(NnError::option(
                    name,
                    format!("must be finite and >= 0, got {x}"),
                ))
            }
        };
        finite_nonneg("schedule.lr", self.lr)?;
        finite_nonneg("schedule.warmup_epochs", self.warmup_epochs)?;
        if !(self.warmup_start_factor > 0.0 && self.warmup_start_factor <= 1.0) {
            return Err(NnError::option(
                "schedule.warmup_start_factor",
                format!("must be in (0, 1], got {}", self.warmup_start_factor),
            ));
        }
        match self.decay {
            Decay::Constant => {}
            Decay::Cosine { min_lr } => {
                finite_nonneg("schedule.decay.min_lr", min_lr)?;
                if min_lr > self.lr {
                    return Err(NnError::option(
                        "schedule.decay.min_lr",
                        format!("{min_lr} is above the base rate {}", self.lr),
                    ));
                }
            }
            Decay::Step {
                every_epochs,
                gamma,
            } => {
                if !(every_epochs.is_finite() && every_epochs > 0.0) {
                    return Err(NnError::option(
                        "schedule.decay.every_epochs",
                        format!("must be > 0, got {every_epochs}"),
                    ));
                }
                finite_nonneg("schedule.decay.gamma", gamma)?;
            }
        }
        Ok(())
    }

    /// The schedule for a run of `epochs` epochs of `steps_per_epoch` steps.
    pub fn build(&self, steps_per_epoch: usize, epochs: usize) -> Result<Schedule, NnError> {
        self.validate()?;
        if steps_per_epoch == 0 {
            return Err(NnError::option(
                "steps per epoch",
                "must be > 0 (is the training split empty?)",
            ));
        }
        let total = steps_per_epoch as u64 * epochs as u64;
        let warmup =
            ((self.warmup_epochs as f64 * steps_per_epoch as f64).round() as u64).min(total);
        let step_every = match self.decay {
            Decay::Step { every_epochs, .. } => {
                ((every_epochs as f64 * steps_per_epoch as f64).round() as u64).max(1)
            }
            _ => 1,
        };
        Ok(Schedule {
            config: self.clone(),
            total,
            warmup,
            step_every,
        })
    }
}

/// A schedule bound to a run's length: the rate of every step.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    config: ScheduleConfig,
    total: u64,
    warmup: u64,
    step_every: u64,
}

impl Schedule {
    /// Steps in the whole run.
    pub fn total_steps(&self) -> u64 {
        self.total
    }

    /// Warm-up steps.
    pub fn warmup_steps(&self) -> u64 {
        self.warmup
    }

    /// The learning rate of step `t` (0-based). Steps past the end keep the last rule's
    /// value (cosine stays at its floor).
    pub fn lr(&self, t: u64) -> f32 {
        let c = &self.config;
        let base = c.lr as f64;
        if t < self.warmup {
            let start = c.warmup_start_factor as f64;
            let factor = start + (1.0 - start) * t as f64 / self.warmup as f64;
            return (base * factor) as f32;
        }
        let t = t - self.warmup;
        let span = self.total - self.warmup;
        let lr = match c.decay {
            Decay::Constant => base,
            Decay::Cosine { min_lr } => {
                let min_lr = min_lr as f64;
                if span == 0 || t >= span {
                    min_lr
                } else {
                    let cos = (std::f64::consts::PI * t as f64 / span as f64).cos();
                    min_lr + (base - min_lr) * (1.0 + cos) / 2.0
                }
            }
            Decay::Step { gamma, .. } => {
                let k = (t / self.step_every).min(i32::MAX as u64) as i32;
                base * (gamma as f64).powi(k)
            }
        };
        lr as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(decay: Decay, warmup_epochs: f32) -> ScheduleConfig {
        ScheduleConfig {
            lr: 0.1,
            decay,
            warmup_epochs,
            warmup_start_factor: 0.25,
        }
    }

    /// PyTorch's CosineAnnealingLR through its recursive (chainable) form, written from its
    /// documentation, to check the closed form used here.
    fn recursive_cosine(base: f64, eta_min: f64, t_max: u64, steps: u64) -> Vec<f64> {
        let pi = std::f64::consts::PI;
        let mut lrs = vec![base];
        let mut lr = base;
        for t in 1..steps {
            let (t, tm) = (t as f64, t_max as f64);
            lr = (1.0 + (pi * t / tm).cos()) / (1.0 + (pi * (t - 1.0) / tm).cos()) * (lr - eta_min)
                + eta_min;
            lrs.push(lr);
        }
        lrs
    }

    #[test]
    fn cosine_matches_pytorch_recursion() {
        let s = config(Decay::Cosine { min_lr: 0.001 }, 0.0)
            .build(7, 3)
            .unwrap();
        let expect = recursive_cosine(0.1, 0.001, 21, 21);
        for (t, e) in expect.iter().enumerate() {
            assert!((s.lr(t as u64) as f64 - e).abs() < 1e-6, "step {t}");
        }
        assert!(s.lr(20) > 0.001 && s.lr(21) == 0.001);
    }

    #[test]
    fn step_decay_and_constant() {
        let s = config(
            Decay::Step {
                every_epochs: 2.0,
                gamma: 0.5,
            },
            0.0,
        )
        .build(3, 6)
        .unwrap();
        let lrs: Vec<f32> = (0..18).map(|t| s.lr(t)).collect();
        assert_eq!(&lrs[..6], &[0.1; 6]);
        assert_eq!(&lrs[6..12], &[0.05; 6]);
        assert_eq!(&lrs[12..], &[0.025; 6]);
        let c = config(Decay::Constant, 0.0).build(3, 2).unwrap();
        assert!((0..10).all(|t| c.lr(t) == 0.1));
    }

    #[test]
    fn warmup_is_linear_then_hands_over() {
        // 4 steps/epoch, 1 warm-up epoch, then cosine over the remaining 8 steps.
        let s = config(Decay::Cosine { min_lr: 0.0 }, 1.0)
            .build(4, 3)
            .unwrap();
        assert_eq!(s.warmup_steps(), 4);
        let warm: Vec<f64> = (0..4).map(|t| s.lr(t) as f64).collect();
        let expect = [0.025, 0.04375, 0.0625, 0.08125];
        for (w, e) in warm.iter().zip(expect) {
            assert!((w - e).abs() < 1e-7, "{w} vs {e}");
        }
        let after = recursive_cosine(0.1, 0.0, 8, 8);
        for (i, e) in after.iter().enumerate() {
            assert!((s.lr(4 + i as u64) as f64 - e).abs() < 1e-6);
        }
        // Warm-up with step decay: the decay counts from the end of the warm-up.
        let s = config(
            Decay::Step {
                every_epochs: 1.0,
                gamma: 0.1,
            },
            0.5,
        )
        .build(4, 3)
        .unwrap();
        assert_eq!(s.lr(2), 0.1);
        assert_eq!(s.lr(5), 0.1);
        assert!((s.lr(6) - 0.01).abs() < 1e-9);
    }

    #[test]
    fn bad_configs_name_the_field() {
        let bad = [
            (config(Decay::Constant, -1.0), "warmup_epochs"),
            (config(Decay::Cosine { min_lr: 0.5 }, 0.0), "min_lr"),
            (
                config(
                    Decay::Step {
                        every_epochs: 0.0,
                        gamma: 0.1,
                    },
                    0.0,
                ),
                "every_epochs",
            ),
            (
                ScheduleConfig {
                    lr: f32::NAN,
                    ..Default::default()
                },
                "schedule.lr",
            ),
        ];
        for (c, field) in bad {
            let err = c.build(10, 1).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
        assert!(ScheduleConfig::default().build(0, 1).is_err());
    }

    #[test]
    fn reads_from_json() {
        let c: ScheduleConfig =
            serde_json::from_str(r#"{"lr": 0.05, "decay": {"kind": "cosine"}}"#).unwrap();
        assert_eq!(c, ScheduleConfig::default());
        let c: ScheduleConfig = serde_json::from_str(
            r#"{"lr": 0.1, "decay": {"kind": "step", "every_epochs": 10}, "warmup_epochs": 2}"#,
        )
        .unwrap();
        assert_eq!(
            c.decay,
            Decay::Step {
                every_epochs: 10.0,
                gamma: 0.1
            }
        );
    }
}
