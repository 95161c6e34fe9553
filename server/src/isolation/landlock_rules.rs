//! The Landlock ruleset of a checking server.
//!
//! Handled (denied unless a rule allows it): every filesystem right but reading files and
//! listing folders, TCP bind and connect (ABI 4+; UDP from ABI 10), and the abstract Unix socket
//! and signal scopes (ABI 6+). Rules: everything but `execute` below the writable folder (and
//! writing `/dev/null`), `execute` on the toolchain's executables. No network rule: no port is
//! allowed. Best effort: a kernel with an older ABI enforces what it knows, and
//! [`RestrictionStatus`] says how much that was.

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, LandlockStatus,
    RestrictionStatus, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus,
    Scope, path_beneath_rules,
};

use super::{ConfineError, Confinement, Support};

/// The newest ABI whose rights the ruleset asks for; older kernels get what they know.
const NEWEST: ABI = ABI::V10;

/// The filesystem rights the ruleset handles: all but reading.
fn handled_fs() -> BitFlags<AccessFs> {
    AccessFs::from_all(NEWEST) & !(AccessFs::ReadFile | AccessFs::ReadDir)
}

fn handled_ruleset() -> Result<RulesetCreated, landlock::RulesetError> {
    Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(handled_fs())?
        .handle_access(AccessNet::from_all(NEWEST))?
        .scope(Scope::from_all(NEWEST))?
        .create()
}

fn rules_for(confinement: &Confinement) -> Result<RulesetCreated, landlock::RulesetError> {
    let write = handled_fs() & !AccessFs::Execute;
    let ruleset = handled_ruleset()?
        .add_rules(path_beneath_rules([&confinement.writable], write))?
        .add_rules(path_beneath_rules(
            ["/dev/null"],
            write & AccessFs::from_file(NEWEST),
        ))?
        // A toolchain folder that is not there (an unset-up elan) allows nothing anyway.
        .add_rules(path_beneath_rules(
            confinement.executables.iter().filter(|path| path.exists()),
            AccessFs::Execute,
        ))?;
    Ok(ruleset)
}

/// Applies `confinement` to the calling thread (and so to everything it executes). Fails unless
/// Landlock enforced at least the filesystem rules.
pub(super) fn restrict_self(confinement: &Confinement) -> Result<RestrictionStatus, ConfineError> {
    std::fs::create_dir_all(&confinement.writable).map_err(|source| ConfineError::Writable {
        path: confinement.writable.clone(),
        source,
    })?;
    let status = rules_for(confinement)
        .and_then(RulesetCreated::restrict_self)
        .map_err(|error| ConfineError::Rules(error.to_string()))?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(ConfineError::Rules(
            "the kernel enforced none of the rules".to_owned(),
        ));
    }
    Ok(status)
}

/// Applies the handled rights (no rule) to a throwaway thread and reports what the kernel
/// enforced. Landlock restricts only the calling thread, so the process is untouched.
pub(super) fn probe() -> Support {
    let probe = std::thread::spawn(|| handled_ruleset().and_then(RulesetCreated::restrict_self));
    let status = match probe.join() {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => {
            return Support::Unavailable(format!("Landlock refused the rules: {error}"));
        }
        Err(_) => return Support::Unavailable("the Landlock probe failed".to_owned()),
    };
    match (status.ruleset, status.landlock) {
        (RulesetStatus::NotEnforced, LandlockStatus::NotEnabled) => Support::Unavailable(
            "Landlock is built into this kernel but not enabled (boot with lsm=…,landlock)"
                .to_owned(),
        ),
        (RulesetStatus::NotEnforced, _) => {
            Support::Unavailable("this kernel has no Landlock (Linux 5.13+ needed)".to_owned())
        }
        (_, LandlockStatus::Available { effective_abi, .. }) => {
            let abi = effective_abi as i32;
            Support::Landlock {
                abi,
                network: abi >= ABI::V4 as i32,
                scoped: abi >= ABI::V6 as i32,
            }
        }
        (_, _) => Support::Unavailable("Landlock reported no ABI".to_owned()),
    }
}
