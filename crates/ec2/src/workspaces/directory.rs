//! Simulated directories (each with its users, UserName → SID) and the fixed bundles
//! (docs/workspaces.md). The directories are `DIR/workspaces/directories.json` (0600).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One user of a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryUser {
    /// The name as given.
    pub name: String,
    /// The user's SID (`S-1-5-21-…`).
    pub sid: String,
}

/// A simulated directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// `d-` + 10 hex digits.
    pub directory_id: String,
    /// The directory's DNS name (`corp.example.com`).
    pub name: String,
    /// The account it belongs to.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Whether it is registered with WorkSpaces.
    pub registered: bool,
    /// Users, by lowercase name (user names are case-insensitive).
    pub users: BTreeMap<String, DirectoryUser>,
}

/// Every simulated directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directories {
    /// By id.
    pub directories: BTreeMap<String, Directory>,
}

/// `DIR/workspaces/directories.json`.
pub fn directories_file(dir: &Path) -> PathBuf {
    dir.join("workspaces").join("directories.json")
}

/// Most directories one data dir holds, and most users one directory holds.
pub const MAX_DIRECTORIES: usize = 1000;
/// Most users of one directory.
pub const MAX_USERS: usize = 10_000;

impl Directories {
    /// Reads the directories of data dir `dir` (none when the file is missing).
    ///
    /// # Errors
    /// A message when the file cannot be read or parsed.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = directories_file(dir);
        match ebsim_data_dir::read_regular(&path, 64 << 20) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes them (0600, atomically).
    ///
    /// # Errors
    /// A message when the file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let path = directories_file(dir);
        let parent = dir.join("workspaces");
        ebsim_data_dir::create_private_dir_all(&parent).map_err(|e| e.to_string())?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        ebsim_data_dir::write_private_atomic(&path, &json)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The directory `id` of `account` in `region`.
    pub fn get(&self, id: &str, account: &str, region: &str) -> Option<&Directory> {
        self.directories
            .get(id)
            .filter(|d| d.account == account && d.region == region)
    }
}

/// Whether `s` is a directory id: `d-` + 8..=63 hex digits (or `wsd-` + 8..=63 lowercase
/// letters or digits).
pub fn is_directory_id(s: &str) -> bool {
    let hex = s.strip_prefix("d-").is_some_and(|r| {
        (8..=63).contains(&r.len()) && r.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    let wsd = s.strip_prefix("wsd-").is_some_and(|r| {
        (8..=63).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    hex || wsd
}

/// Whether `s` is a user name WorkSpaces takes: 1–63 printable characters.
pub fn is_user_name(s: &str) -> bool {
    (1..=63).contains(&s.chars().count()) && !s.chars().any(char::is_control)
}

/// A new directory id: `d-` + 10 hex digits.
pub fn new_directory_id() -> String {
    format!("d-{:010x}", rand::random::<u64>() & 0xff_ffff_ffff)
}

/// A new SID for a user of a directory: `S-1-5-21-A-B-C-RID`, the domain part fixed per
/// directory (from its id), the RID from 1104 on.
pub fn new_sid(directory: &Directory) -> String {
    let seed = u64::from_str_radix(directory.directory_id.trim_start_matches("d-"), 16)
        .unwrap_or_else(|_| rand::random());
    let a = 100_000_000 + (seed % 900_000_000);
    let b = 100_000_000 + ((seed >> 20) % 900_000_000);
    let c = 100_000_000 + ((seed >> 11) % 900_000_000);
    let rid = 1104 + directory.users.len();
    format!("S-1-5-21-{a}-{b}-{c}-{rid}")
}

/// A fixed bundle.
#[derive(Debug)]
pub struct Bundle {
    /// `wsb-…`.
    pub id: &'static str,
    /// Its name.
    pub name: &'static str,
    /// The compute type.
    pub compute: &'static str,
    /// Root volume GiB.
    pub root_gib: u64,
    /// User volume GiB.
    pub user_gib: u64,
}

/// The bundles every account sees (owner `AMAZON`).
pub const BUNDLES: &[Bundle] = &[
    Bundle {
        id: "wsb-valuew10x1",
        name: "Value with Windows 10",
        compute: "VALUE",
        root_gib: 80,
        user_gib: 10,
    },
    Bundle {
        id: "wsb-stndw10x1",
        name: "Standard with Windows 10",
        compute: "STANDARD",
        root_gib: 80,
        user_gib: 50,
    },
    Bundle {
        id: "wsb-perfw10x1",
        name: "Performance with Windows 10",
        compute: "PERFORMANCE",
        root_gib: 80,
        user_gib: 100,
    },
    Bundle {
        id: "wsb-powerw10x1",
        name: "Power with Windows 10",
        compute: "POWER",
        root_gib: 175,
        user_gib: 100,
    },
];

/// The bundle `id`.
pub fn bundle(id: &str) -> Option<&'static Bundle> {
    BUNDLES.iter().find(|b| b.id == id)
}

/// A bundle as DescribeWorkspaceBundles answers it.
pub fn bundle_json(b: &Bundle) -> Value {
    json!({
        "BundleId": b.id,
        "Name": b.name,
        "Owner": "Amazon",
        "Description": format!("{} bundle ({} GiB root, {} GiB user)", b.name, b.root_gib, b.user_gib),
        "ImageId": "wsi-ebsim0001",
        "RootStorage": {"Capacity": b.root_gib.to_string()},
        "UserStorage": {"Capacity": b.user_gib.to_string()},
        "ComputeType": {"Name": b.compute},
        "State": "AVAILABLE",
        "BundleType": "REGULAR",
        "CreationTime": 1_577_836_800,
        "LastUpdatedTime": 1_577_836_800,
    })
}

/// A directory as DescribeWorkspaceDirectories answers it.
pub fn directory_json(d: &Directory) -> Value {
    json!({
        "DirectoryId": d.directory_id,
        "Alias": d.directory_id,
        "DirectoryName": d.name,
        "RegistrationCode": format!("SLiad+{}", d.directory_id.trim_start_matches("d-").to_uppercase()),
        "SubnetIds": ["subnet-0ebs1m0000000001", "subnet-0ebs1m0000000002"],
        "DnsIpAddresses": ["10.0.0.10", "10.0.1.10"],
        "CustomerUserName": "Administrator",
        "DirectoryType": "SIMPLE_AD",
        "WorkspaceSecurityGroupId": "sg-0ebs1m0000000001",
        "State": if d.registered { "REGISTERED" } else { "DEREGISTERED" },
        "Tenancy": "SHARED",
        "WorkspaceCreationProperties": {"EnableInternetAccess": false, "UserEnabledAsLocalAdministrator": false, "EnableMaintenanceMode": true},
    })
}
