//! The WorkSpaces story: the set-up (key, key users, the admin's IAM policy, a refused
//! launch), the nine steps with the calls KMS recorded, four lessons, and the terminate.

use std::path::Path;

use ebsim_iam::QueryService;
use ebsim_kms_client::{Identity, KmsClient};
use ebsim_workspaces::{LaunchRequest, Simulator, Workspace};
use serde_json::{Value, json};

use super::lessons;
use super::report::{Call, Kind, Report, Section, str_at};
use crate::CliError;

pub(crate) const SID: &str = "S-1-5-21-277731876-1789304096-451871588-1107";
pub(crate) const DIRECTORY: &str = "d-1234abcd01";
const ADMIN: &str = "WorkSpacesAdmin";
const HELPDESK: &str = "WorkSpacesHelpdesk";
const STEPS: u32 = 9;

/// Reads the audit records produced since the last call, as [`Call`]s numbered in trail
/// order. The last record seen is remembered by its event id, so that a data dir whose audit
/// ring is full (old records dropping off its front) still yields exactly the new ones.
pub(crate) struct Trail<'a> {
    sim: &'a Simulator,
    last: Option<String>,
    pub(crate) all: Vec<Value>,
}

fn event_id(r: &Value) -> Option<String> {
    str_at(r, &["eventID"]).map(str::to_owned)
}

impl<'a> Trail<'a> {
    pub(crate) fn new(sim: &'a Simulator) -> Result<Self, CliError> {
        let last = sim.audit_records()?.last().and_then(event_id);
        Ok(Self {
            sim,
            last,
            all: Vec::new(),
        })
    }

    pub(crate) fn take(&mut self) -> Result<Vec<Call>, CliError> {
        let records = self.sim.audit_records()?;
        let start = self
            .last
            .as_ref()
            .and_then(|id| {
                records
                    .iter()
                    .rposition(|r| event_id(r).as_ref() == Some(id))
            })
            .map_or(0, |i| i + 1);
        let new: Vec<Value> = records.into_iter().skip(start).collect();
        if let Some(id) = new.last().and_then(event_id) {
            self.last = Some(id);
        }
        let first = self.all.len();
        self.all.extend(new.iter().cloned());
        Ok(new
            .iter()
            .enumerate()
            .map(|(i, r)| Call::from_record(first + i, r))
            .collect())
    }
}

/// What the lessons need from the story.
pub(crate) struct Ctx<'a> {
    pub client: KmsClient,
    pub sim: &'a Simulator,
    pub dir: &'a Path,
    pub trail: Trail<'a>,
    pub key_arn: String,
    pub admin: String,
    pub ws: Workspace,
}

pub(crate) fn new_step(n: u32, title: impl Into<String>) -> Section {
    Section::new(Kind::Step { n, of: STEPS }, title)
}

/// The error code of a failed call, or the error's sentence.
pub(crate) fn code_of(e: &ebsim_kms_client::ClientError) -> String {
    e.kms_error_type()
        .map_or_else(|| e.to_string(), |t| t.name().to_owned())
}

/// Creates the IAM user `name` of the client's account (`account`, the key's) unless it
/// exists.
fn ensure_user(client: &KmsClient, account: &str, name: &str) -> Result<String, CliError> {
    match client.query(QueryService::Iam, "CreateUser", &[("UserName", name)]) {
        Ok(_) => {}
        Err(ebsim_kms_client::ClientError::Service { type_name, .. })
            if type_name == "EntityAlreadyExists" => {}
        Err(e) => return Err(e.into()),
    }
    Ok(format!("arn:aws:iam::{account}:user/{name}"))
}

/// The WorkSpaces administrator's IAM policy of the source document, for `key_arn`.
pub(crate) fn admin_policy(key_arn: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": key_arn},
        {"Effect": "Allow", "Action": ["kms:ListAliases", "kms:ListKeys"], "Resource": "*"}
    ]})
}

/// [`admin_policy`] as printed: valid JSON in lines of at most 80 columns.
pub(crate) fn admin_policy_lines(key_arn: &str) -> Vec<String> {
    vec![
        "{\"Version\": \"2012-10-17\", \"Statement\": [".into(),
        " {\"Effect\": \"Allow\", \"Action\": \"kms:CreateGrant\", \"Resource\":".into(),
        format!("  \"{key_arn}\""),
        " },".into(),
        " {\"Effect\": \"Allow\", \"Action\": [\"kms:ListAliases\", \"kms:ListKeys\"],".into(),
        "  \"Resource\": \"*\"}".into(),
        "]}".into(),
    ]
}

/// The key users statement (part 1 of the source document): the admins may use the key.
fn key_users_statement(users: &[&str]) -> Value {
    json!({"Sid": "Allow use of the key", "Effect": "Allow",
        "Principal": {"AWS": users},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
            "kms:DescribeKey"],
        "Resource": "*"})
}

/// The default policy of a key with `extra` appended to its statements.
pub(crate) fn policy_with(client: &KmsClient, key: &str, extra: Value) -> Result<Value, CliError> {
    let p = client.call(
        &Identity::Default,
        "GetKeyPolicy",
        json!({"KeyId": key, "PolicyName": "default"}),
    )?;
    let mut policy: Value = serde_json::from_str(str_at(&p, &["Policy"]).unwrap_or("{}"))
        .map_err(|e| CliError::InvalidArgument(format!("the key policy is not JSON: {e}")))?;
    if let Some(s) = policy["Statement"].as_array_mut() {
        s.retain(|x| x.get("Sid") != extra.get("Sid"));
        s.push(extra);
    }
    Ok(policy)
}

fn intro(admin: &str) -> Section {
    let mut s = Section::new(Kind::Intro, "Who is who");
    s.table(
        13,
        vec![
            ("Admin".into(), format!("{admin}, the WorkSpaces administrator. WorkSpaces forwards the admin's calls: they read \"via workspaces.amazonaws.com\".")),
            ("WorkSpaces".into(), "From step 2 on it acts through a session of its own for the WorkSpace, aws:workspaces-infrastructure/ws-…, the grantee of the WorkSpace's grant.".into()),
            ("EBS (EC2)".into(), "\"EBS\" is the EC2 infrastructure that creates and serves volumes. Its calls read \"via ec2.amazonaws.com\": while creating volumes it acts for the WorkSpace's session; to attach a volume it acts as aws:ec2-infrastructure/vol-… (AWS names that session after the instance; ebsim after the volume).".into()),
            ("assumed-role".into(), "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION is a session of a role that a service took on: ROLE says who acts, SESSION what for.".into()),
            ("KMS".into(), "Decides each call by key policy, IAM policies and grants, and records it. Every call below is read back from that audit trail, in its order.".into()),
        ],
    );
    s
}

/// Runs the story on `sim` and returns what it found.
pub(crate) fn run(
    client: &KmsClient,
    sim: &Simulator,
    dir: &Path,
) -> Result<(Report, Vec<Value>), CliError> {
    let mut trail = Trail::new(sim)?;
    let mut report = Report {
        story: "workspaces",
        title: "ebsim demo — how an encrypted WorkSpace uses AWS KMS (docs/key-flow.md)".into(),
        ..Report::default()
    };
    report
        .facts
        .insert("data_dir".into(), json!(dir.display().to_string()));

    // Setup: the key, the key users, the admins' IAM policies, a launch without CreateGrant.
    let created = client.call(
        &Identity::Default,
        "CreateKey",
        json!({"Description": "ebsim demo: WorkSpaces volumes"}),
    )?;
    let key_arn = str_at(&created, &["KeyMetadata", "Arn"])
        .unwrap_or_default()
        .to_owned();
    let account = ebsim_workspaces::arn_account(&key_arn)
        .unwrap_or("111122223333")
        .to_owned();
    let admin = ensure_user(client, &account, ADMIN)?;
    let helpdesk = ensure_user(client, &account, HELPDESK)?;
    let mut setup = Section::new(
        Kind::Setup,
        "a symmetric customer managed key and its administrators",
    );
    setup.text(format!("Data dir of this run: {}", dir.display()));
    setup.text(format!("The account root creates the key: {key_arn}"));
    setup.calls(trail.take()?);
    let policy = policy_with(client, &key_arn, key_users_statement(&[&admin, &helpdesk]))?;
    client.call(
        &Identity::Default,
        "PutKeyPolicy",
        json!({"KeyId": key_arn, "PolicyName": "default", "Policy": policy.to_string()}),
    )?;
    setup.text(format!("Part 1: the key policy's \"Allow use of the key\" statement makes {ADMIN} and {HELPDESK} key users (Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, DescribeKey)."));
    setup.calls(trail.take()?);
    client.query(
        QueryService::Iam,
        "PutUserPolicy",
        &[
            ("UserName", ADMIN),
            ("PolicyName", "workspaces-kms"),
            ("PolicyDocument", &admin_policy(&key_arn).to_string()),
        ],
    )?;
    let console_only = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:ListAliases", "kms:ListKeys"], "Resource": "*"}]});
    client.query(
        QueryService::Iam,
        "PutUserPolicy",
        &[
            ("UserName", HELPDESK),
            ("PolicyName", "console-only"),
            ("PolicyDocument", &console_only.to_string()),
        ],
    )?;
    setup.text(format!(
        "Part 2: {ADMIN}'s IAM policy, as the source document writes it, with this key's ARN:"
    ));
    setup.raw(admin_policy_lines(&key_arn));
    setup.text("kms:CreateGrant on the key lets WorkSpaces make the WorkSpace's grant for the admin. kms:ListAliases and kms:ListKeys are only for the console, which lists keys to choose from; an admin using only the API can leave that statement out.");
    let mut req = LaunchRequest::new(SID, DIRECTORY);
    req.key_id = Some(key_arn.clone());
    req.admin = Some(helpdesk.clone());
    let refused = sim.workspaces().launch(&req);
    setup.text(format!(
        "{HELPDESK} has only the console statement, no kms:CreateGrant. Its launch: {}",
        match &refused {
            Ok(_) => "succeeded (unexpected!)".to_owned(),
            Err(ebsim_workspaces::ControlPlaneError::Kms { source, .. }) =>
                format!("refused: {source}"),
            Err(e) => format!("refused: {e}"),
        }
    ));
    setup.outcome = Some(match &refused {
        Ok(_) => "ok".into(),
        Err(e) => e
            .kms_error_type()
            .map_or_else(|| e.to_string(), |t| t.name().to_owned()),
    });
    setup.calls(trail.take()?);
    report.sections.push(intro(&admin));
    report.sections.push(setup);

    // Steps 1–6: the launch.
    req.admin = Some(admin.clone());
    let ws = sim.workspaces().launch(&req)?;
    let launch = trail.take()?;
    let named = |op: &str| -> Vec<Call> {
        launch
            .iter()
            .filter(|c| c.operation == op)
            .cloned()
            .collect()
    };
    let grants = named("CreateGrant");
    let mut s1 = new_step(
        1,
        format!(
            "{ADMIN} launches {} for user {SID} in {DIRECTORY} with the key. WorkSpaces checks the key and creates a grant on it, usable only by this WorkSpace's session and only for this user and directory.",
            ws.workspace_id
        ),
    );
    s1.calls(named("DescribeKey"));
    s1.calls(grants.iter().take(1).cloned());
    report.sections.push(s1);
    let mut s2 = new_step(
        2,
        "WorkSpaces asks EBS for a root and a user volume. For each, EBS creates a grant, a child of the WorkSpace's grant, usable only by the EC2 session of that volume, only for Decrypt, and only with that volume's whole context.",
    );
    s2.text("EBS makes one volume, then the other: the calls of steps 2 and 3 follow below step 3, in the order KMS received them.");
    s2.notes
        .push("a child grant per volume (calls with step 3)".into());
    report.sections.push(s2);
    let mut s3 = new_step(
        3,
        "EBS asks KMS for a new data key for each volume (GenerateDataKeyWithoutPlaintext), wrapped under the key and bound to the encryption context: the user's SID and directory id (aws:workspaces:sid-directoryid) and the volume id (aws:ebs:id).",
    );
    s3.calls(
        launch
            .iter()
            .filter(|c| {
                c.operation == "GenerateDataKeyWithoutPlaintext"
                    || (c.operation == "CreateGrant"
                        && c.seq != grants.first().map_or(usize::MAX, |g| g.seq))
            })
            .cloned()
            .map(|mut c| {
                c.step = Some(if c.operation == "CreateGrant" { 2 } else { 3 });
                c
            }),
    );
    report.sections.push(s3);
    let mut s4 = new_step(
        4,
        "KMS made a fresh 512-bit data key for each (two AES-256 keys for XTS), wrapped it under the key, and returned only the wrapped copy. EBS stored it in the volume's metadata. The WorkSpace's volumes:",
    );
    let mut rows = Vec::new();
    let mut volumes = Vec::new();
    for (role, id, what) in [
        ("root", &ws.root_volume_id, "the system disk"),
        ("user", &ws.user_volume_id, "the user's files"),
    ] {
        let meta = sim.ebs().volumes().load(id)?;
        let path = dir.join("volumes").join(id).join("metadata.json");
        rows.push((format!("{role} volume"), format!("{id} ({what})")));
        rows.push(("  grant".into(), meta.grant_id.clone().unwrap_or_default()));
        rows.push(("  metadata".into(), path.display().to_string()));
        volumes.push(
            json!({"role": role, "volume_id": id, "grant_id": meta.grant_id,
            "metadata": path.display().to_string()}),
        );
    }
    s4.table(12, rows);
    s4.notes.push("wrapped keys stored in metadata.json".into());
    report.facts.insert("volumes".into(), Value::Array(volumes));
    report.sections.push(s4);
    let mut s5 = new_step(
        5,
        "The volumes are attached: EBS sends each wrapped key back in a Decrypt with the same encryption context, as the EC2 session of that volume.",
    );
    s5.calls(named("Decrypt"));
    report.sections.push(s5);
    let mut s6 = new_step(
        6,
        "KMS checked each Decrypt against the key policy and the grants (the volume's grant, and its constraint against the context), unwrapped the data key, and returned the plaintext to EBS only (see \"allowed by\" above).",
    );
    s6.notes
        .push("KMS decided each Decrypt; plaintext key to EBS only".into());
    s6.text("Where the plaintext data key lives: in AWS, in the memory of the EBS hosts that serve the volume, for as long as it is attached. In ebsim, in this process's memory while the volume is attached; never on disk, never in the trail.");
    report.sections.push(s6);

    let mut cx = Ctx {
        client: client.clone(),
        sim,
        dir,
        trail,
        key_arn,
        admin,
        ws,
    };
    let (s7, s8) = lessons::io_and_reboot(&mut cx)?;
    report.sections.push(s7);
    report.sections.push(s8);
    report.sections.push(lessons::context(&mut cx)?);
    report.sections.push(lessons::disabled(&mut cx)?);
    report.sections.push(lessons::rsa(&mut cx)?);
    report.sections.push(lessons::rotation(&mut cx)?);
    report.sections.push(lessons::terminate(&mut cx)?);

    let mut words = Section::new(Kind::Notes, "Words used here (also: ebsim demo --glossary)");
    words.table(20, super::glossary::rows());
    report.sections.push(words);
    report.facts.insert("key_arn".into(), json!(cx.key_arn));
    report
        .facts
        .insert("workspace_id".into(), json!(cx.ws.workspace_id));
    report.facts.insert("admin".into(), json!(cx.admin));
    Ok((report, cx.trail.all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_admin_policy_is_the_applied_one_within_80_columns() {
        let arn = "arn:aws:kms:us-west-2:111122223333:key/f500d1cf-4eb5-4f01-b144-32b90b62e2f0";
        let lines = admin_policy_lines(arn);
        for l in &lines {
            assert!(l.chars().count() <= 80, "{l}");
        }
        let parsed: Value = serde_json::from_str(&lines.join("\n")).expect("valid JSON");
        assert_eq!(parsed, admin_policy(arn));
    }
}
