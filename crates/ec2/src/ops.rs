//! The operation table: what ebsim knows about each EC2 action it serves, in one place
//! (docs/ec2.md, "Operations"). The names are `ebsim_iam::EC2_ACTIONS`; a test keeps both
//! in step.

/// What an action is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The AWS name (`CreateVolume`); authorized as `ec2:NAME`.
    pub name: &'static str,
    /// Whether it changes the state (it is then saved, and a CLI routes it to the server).
    pub mutates: bool,
    /// Whether it accepts `DryRun`.
    pub dry_run: bool,
    /// Whether ebsim serves it.
    pub implemented: bool,
}

const fn op(name: &'static str, mutates: bool) -> Operation {
    Operation {
        name,
        mutates,
        dry_run: true,
        implemented: true,
    }
}

/// Every EC2 action ebsim knows.
pub const OPERATIONS: &[Operation] = &[
    op("CreateVolume", true),
    op("DescribeVolumes", false),
    op("DeleteVolume", true),
    op("ModifyVolume", true),
    op("AttachVolume", true),
    op("DetachVolume", true),
    op("RunInstances", true),
    op("DescribeInstances", false),
    op("StartInstances", true),
    op("StopInstances", true),
    op("TerminateInstances", true),
    op("EnableEbsEncryptionByDefault", true),
    op("DisableEbsEncryptionByDefault", true),
    op("GetEbsEncryptionByDefault", false),
    op("GetEbsDefaultKmsKeyId", false),
    op("ModifyEbsDefaultKmsKeyId", true),
    op("ResetEbsDefaultKmsKeyId", true),
    op("CreateSnapshot", true),
    op("DescribeSnapshots", false),
    op("DeleteSnapshot", true),
    op("CopySnapshot", true),
];

/// The operation named `name`.
pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_query_services_list() {
        let names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
        assert_eq!(names, ebsim_iam::EC2_ACTIONS);
        assert!(operation("CreateVolume").is_some_and(|o| o.mutates));
        assert!(operation("DescribeVolumes").is_some_and(|o| !o.mutates));
        assert!(operation("Nope").is_none());
    }
}
