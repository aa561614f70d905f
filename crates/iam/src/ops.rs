//! The operation table of the Query services: which actions each one has, its XML namespace
//! and API version (docs/iam.md, "Operations").

/// The IAM actions ebsim serves (AWS names; each is authorized as `iam:ACTION`).
pub const IAM_ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "PutUserPolicy",
    "GetUserPolicy",
    "ListUserPolicies",
    "DeleteUserPolicy",
    "PutRolePolicy",
    "GetRolePolicy",
    "ListRolePolicies",
    "DeleteRolePolicy",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "CreatePolicy",
    "GetPolicy",
    "ListPolicies",
    "DeletePolicy",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedUserPolicies",
    "ListAttachedRolePolicies",
];

/// The STS actions ebsim serves.
pub const STS_ACTIONS: &[&str] = &["GetCallerIdentity", "AssumeRole", "GetSessionToken"];

/// The EC2 actions ebsim serves (the EBS part; docs/ec2.md). Each is authorized as
/// `ec2:ACTION`; what each does is the operation table of `ebsim-ec2`.
pub const EC2_ACTIONS: &[&str] = &[
    "CreateVolume",
    "DescribeVolumes",
    "DeleteVolume",
    "ModifyVolume",
    "AttachVolume",
    "DetachVolume",
    "RunInstances",
    "DescribeInstances",
    "StartInstances",
    "StopInstances",
    "TerminateInstances",
    "EnableEbsEncryptionByDefault",
    "DisableEbsEncryptionByDefault",
    "GetEbsEncryptionByDefault",
    "GetEbsDefaultKmsKeyId",
    "ModifyEbsDefaultKmsKeyId",
    "ResetEbsDefaultKmsKeyId",
    "CreateSnapshot",
    "DescribeSnapshots",
    "DeleteSnapshot",
    "CopySnapshot",
];

/// A service spoken in the Query protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueryService {
    /// IAM (`iam`, version 2010-05-08).
    Iam,
    /// STS (`sts`, version 2011-06-15).
    Sts,
    /// EC2 (`ec2`, version 2016-11-15): the Query protocol's EC2 flavour (lists `Name.N`,
    /// answers without a Result wrapper, `<Response><Errors>` errors).
    Ec2,
}

impl QueryService {
    /// The service of a SigV4 credential scope's service name.
    pub fn from_scope(name: &str) -> Option<Self> {
        match name {
            "iam" => Some(Self::Iam),
            "sts" => Some(Self::Sts),
            "ec2" => Some(Self::Ec2),
            _ => None,
        }
    }

    /// The SigV4 service name (and action prefix in policies).
    pub fn name(self) -> &'static str {
        match self {
            Self::Iam => "iam",
            Self::Sts => "sts",
            Self::Ec2 => "ec2",
        }
    }

    /// The XML namespace of its responses.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            Self::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
            Self::Ec2 => "http://ec2.amazonaws.com/doc/2016-11-15/",
        }
    }

    /// The API version its requests name.
    pub fn version(self) -> &'static str {
        match self {
            Self::Iam => "2010-05-08",
            Self::Sts => "2011-06-15",
            Self::Ec2 => "2016-11-15",
        }
    }

    /// The actions it has.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            Self::Iam => IAM_ACTIONS,
            Self::Sts => STS_ACTIONS,
            Self::Ec2 => EC2_ACTIONS,
        }
    }

    /// The action of this service named `name`, as the table spells it.
    pub fn action(self, name: &str) -> Option<&'static str> {
        self.actions().iter().copied().find(|a| *a == name)
    }
}
