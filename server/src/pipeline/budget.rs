//! Budgets: what one hole may spend ([`HoleBudget`]) and what the whole workspace may run at
//! once ([`WorkspaceLimits`]), with defaults fit for a laptop and a local model server.

use std::time::Duration;

/// What one hole may spend before the job gives up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoleBudget {
    /// Whether the models are asked at all (the tactic portfolio is model-free).
    pub use_models: bool,
    /// Prover samples per goal.
    pub samples: usize,
    /// Failed samples (with a Lean error) that get one repair request each; 0 disables repair.
    pub repairs: usize,
    /// How deep sketches may nest: 0 disables decomposition, 1 lets steps be proved but not
    /// decomposed again.
    pub decomposition_depth: usize,
    /// Steps of one sketch proved at the same time.
    pub parallel_steps: usize,
    /// Portfolio tactics checked at the same time.
    pub parallel_tactics: usize,
    /// Checks spent on shortening a verified proof; 0 disables cleanup.
    pub cleanup_checks: usize,
    /// Wall time for the whole job, from the moment it leaves the queue.
    pub wall_time: Duration,
}

impl Default for HoleBudget {
    fn default() -> Self {
        HoleBudget {
            use_models: true,
            samples: 8,
            repairs: 2,
            decomposition_depth: 2,
            parallel_steps: 3,
            parallel_tactics: 2,
            cleanup_checks: 6,
            wall_time: Duration::from_secs(180),
        }
    }
}

/// Limits shared by every job of a workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceLimits {
    /// Holes being proved at once; further jobs wait in the queue.
    pub concurrent_holes: usize,
    /// Model requests (prover and decomposer) in flight at once.
    pub concurrent_model_requests: usize,
}

impl Default for WorkspaceLimits {
    fn default() -> Self {
        WorkspaceLimits {
            concurrent_holes: 2,
            concurrent_model_requests: 4,
        }
    }
}
