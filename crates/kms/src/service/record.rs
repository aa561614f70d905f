//! The audit record of a call (CloudTrail-shaped, [`crate::audit::AuditRecord`]).

use super::*;
use crate::audit::{
    AdditionalEventData, AuditRecord, RequestMembers, RequestParameters, Resource, UserIdentity,
};

/// The request members an audit record copies.
pub(super) enum AuditParams<'a> {
    /// A general request: the members the operation table says its operation records.
    Map(&'a Map<String, Value>),
    /// A typed data-plane request.
    Hot(&'a hot::HotReq),
}

impl<'a> AuditParams<'a> {
    /// `requestParameters` of a call of `operation`.
    fn parameters(
        &self,
        operation: Option<&'static crate::ops::Operation>,
    ) -> RequestParameters<'a> {
        RequestParameters {
            operation,
            request: match *self {
                Self::Map(m) => RequestMembers::Json(m),
                Self::Hot(h) => RequestMembers::Typed(h.members()),
            },
        }
    }
}

/// Room for the text of a timestamp (`YYYY-MM-DDTHH:MM:SSZ`, longer for years past 9999).
const TIME_TEXT: usize = 32;

/// Room for a UUID's hyphenated text.
const UUID_TEXT: usize = uuid::fmt::Hyphenated::LENGTH;
type UuidText = [u8; UUID_TEXT];

/// The hyphenated lower-case text of the random UUID made of the 16 `bytes`, written into
/// `text`.
fn uuid_text<'t>(bytes: &[u8], text: &'t mut UuidText) -> &'t str {
    let mut b = [0u8; 16];
    b.copy_from_slice(bytes);
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .encode_lower(text)
}

impl Kms {
    /// The simulated time as text (formatted once per second), copied into `buf` when it
    /// fits.
    fn event_time<'b>(
        &self,
        now: Option<f64>,
        buf: &'b mut [u8; TIME_TEXT],
    ) -> std::borrow::Cow<'b, str> {
        let now = now.unwrap_or_else(|| self.now());
        let secs = now.floor() as i64;
        let mut cache = self.time_text.lock();
        if cache.0 != secs {
            *cache = (secs, iso8601(now));
        }
        let text = cache.1.as_bytes();
        match buf.get_mut(..text.len()) {
            Some(room) => {
                room.copy_from_slice(text);
                drop(cache);
                // A copy of a whole `str`: UTF-8.
                std::str::from_utf8(room).map_or_else(
                    |_| std::borrow::Cow::Owned(String::new()),
                    std::borrow::Cow::Borrowed,
                )
            }
            None => std::borrow::Cow::Owned(cache.1.clone()),
        }
    }

    /// Appends the CloudTrail-shaped record of a call to the audit trail.
    pub(super) fn record(
        &self,
        caller: &Caller,
        op: &str,
        params: AuditParams<'_>,
        ev: &Ev,
        error: Option<&KmsError>,
    ) {
        let p = caller.principal.as_str();
        let kind = if is_root(p) {
            "Root"
        } else if p.contains(":assumed-role/") {
            "AssumedRole"
        } else if p.starts_with("arn:aws:iam::") {
            "IAMUser"
        } else {
            "AWSService"
        };
        let service = caller
            .via_service
            .as_deref()
            .map(|v| format!("{}.amazonaws.com", v.split('.').next().unwrap_or(v)));
        let service_principal = kind == "AWSService";
        let operation = crate::ops::operation(op);
        let mut ids = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut ids);
        let (mut request_id, mut event_id) = ([0; UUID_TEXT], [0; UUID_TEXT]);
        let mut time = [0u8; TIME_TEXT];
        let record = AuditRecord {
            event_version: AuditRecord::EVENT_VERSION,
            user_identity: UserIdentity {
                kind,
                arn: (!service_principal).then_some(p),
                account_id: if service_principal {
                    None
                } else {
                    principal_account(p)
                },
                invoked_by: if service_principal {
                    Some(p)
                } else {
                    service.as_deref()
                },
            },
            event_time: &self.event_time(ev.now, &mut time),
            event_source: AuditRecord::EVENT_SOURCE,
            event_name: op,
            aws_region: self.region_of(caller).as_str(),
            source_ip_address: service.as_deref().unwrap_or("127.0.0.1"),
            user_agent: service.as_deref().unwrap_or("ebsim"),
            request_parameters: params.parameters(operation),
            response_elements: ev.response.as_ref().filter(|_| error.is_none()),
            additional_event_data: AdditionalEventData {
                grant_id: ev.grant_id.as_deref(),
                policy_statement_sid: ev.sid.as_deref(),
            },
            error_code: error.map(|e| e.error_type.name()),
            error_message: error.map(|e| e.message.as_deref().unwrap_or("")),
            request_id: uuid_text(&ids[..16], &mut request_id),
            event_id: uuid_text(&ids[16..], &mut event_id),
            // As `read_only(op)`, without looking the operation up again.
            read_only: operation.is_some_and(crate::ops::Operation::read_only),
            resources: ev.key_arn.as_deref().map(|arn| {
                [Resource {
                    arn,
                    account_id: ev.key_account.as_deref(),
                    kind: Resource::KEY_TYPE,
                }]
            }),
            event_type: AuditRecord::EVENT_TYPE,
            management_event: true,
            recipient_account_id: ev.key_account.as_deref().unwrap_or(&self.config.account),
            event_category: AuditRecord::EVENT_CATEGORY,
        };
        if error.is_none()
            && let Some(arn) = ev.key_arn.as_deref()
        {
            let now = ev.now.unwrap_or_else(|| self.now());
            self.note_usage(op, arn, now, (record.request_id, record.event_id));
        }
        self.audit.append(&record);
    }
}
