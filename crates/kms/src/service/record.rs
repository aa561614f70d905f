//! The audit record of a call (CloudTrail-shaped JSON).

use super::*;

pub(super) fn camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (camel(k), v.clone())).collect()),
        other => other.clone(),
    }
}

/// Request members copied into audit records (never plaintext, blobs, tokens or policies).
/// The request members an audit record copies.
pub(super) enum AuditParams<'a> {
    /// A general request: the members the operation table says its operation records.
    Map(&'a Map<String, Value>),
    /// A typed data-plane request.
    Hot(&'a hot::HotReq),
}

impl AuditParams<'_> {
    /// Writes `requestParameters`: the audited members in name order, names in camelCase;
    /// `null` when there are none.
    fn write(&self, op: &str, out: &mut String) {
        let Some(audited) = crate::ops::operation(op) else {
            out.push_str("null");
            return;
        };
        let req = match self {
            Self::Hot(h) => return h.write_audit_params(audited, out),
            Self::Map(m) => m,
        };
        let mut first = true;
        for (name, v) in req.iter().filter(|(k, _)| audited.records_member(k)) {
            out.push(if first { '{' } else { ',' });
            first = false;
            jsonw::str(out, &camel(name));
            out.push(':');
            if name == "Constraints" {
                jsonw::value(out, &camel_keys(v));
            } else {
                jsonw::value(out, v);
            }
        }
        if first {
            out.push_str("null");
        } else {
            out.push('}');
        }
    }
}

impl Kms {
    /// Appends the simulated time as a JSON string (formatted once per second).
    pub(super) fn push_event_time(&self, out: &mut String) {
        let now = self.now();
        let secs = now.floor() as i64;
        let mut cache = self.time_text.lock();
        if cache.0 != secs {
            *cache = (secs, iso8601(now));
        }
        jsonw::str(out, &cache.1);
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
        let mut ids = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut ids);
        let uuid = |out: &mut String, b: &[u8]| {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            jsonw::str(
                out,
                uuid::Builder::from_random_bytes(a)
                    .into_uuid()
                    .hyphenated()
                    .encode_lower(&mut text),
            );
        };
        let mut out = self.audit.buffer();
        let o = &mut out;
        o.push_str("{\"eventVersion\":\"1.08\",\"userIdentity\":{");
        jsonw::str_member(o, "type", kind);
        if !service_principal {
            o.push(',');
            jsonw::str_member(o, "arn", p);
            if let Some(account) = principal_account(p) {
                o.push(',');
                jsonw::str_member(o, "accountId", account);
            }
        }
        let invoked_by = if service_principal {
            Some(p)
        } else {
            service.as_deref()
        };
        if let Some(by) = invoked_by {
            o.push(',');
            jsonw::str_member(o, "invokedBy", by);
        }
        o.push_str("},\"eventTime\":");
        self.push_event_time(o);
        o.push_str(",\"eventSource\":\"kms.amazonaws.com\",");
        jsonw::str_member(o, "eventName", op);
        o.push(',');
        jsonw::str_member(o, "awsRegion", &self.config.region);
        o.push(',');
        jsonw::str_member(
            o,
            "sourceIPAddress",
            service.as_deref().unwrap_or("127.0.0.1"),
        );
        o.push(',');
        jsonw::str_member(o, "userAgent", service.as_deref().unwrap_or("ebsim"));
        o.push_str(",\"requestParameters\":");
        params.write(op, o);
        o.push_str(",\"responseElements\":");
        match (&ev.response, error) {
            (Some(v), None) => jsonw::value(o, v),
            _ => o.push_str("null"),
        }
        if ev.grant_id.is_some() || ev.sid.is_some() {
            o.push_str(",\"additionalEventData\":{");
            if let Some(g) = &ev.grant_id {
                jsonw::str_member(o, "grantId", g);
            }
            if let Some(sid) = &ev.sid {
                if ev.grant_id.is_some() {
                    o.push(',');
                }
                jsonw::str_member(o, "policyStatementSid", sid);
            }
            o.push('}');
        }
        if let Some(e) = error {
            o.push(',');
            jsonw::str_member(o, "errorCode", e.error_type.name());
            o.push(',');
            jsonw::str_member(o, "errorMessage", e.message.as_deref().unwrap_or(""));
        }
        o.push_str(",\"requestID\":");
        uuid(o, &ids[..16]);
        o.push_str(",\"eventID\":");
        uuid(o, &ids[16..]);
        o.push_str(",\"readOnly\":");
        jsonw::bool(o, read_only(op));
        if let Some(arn) = &ev.key_arn {
            o.push_str(",\"resources\":[{");
            jsonw::str_member(o, "ARN", arn);
            o.push_str(",\"accountId\":");
            match &ev.key_account {
                Some(a) => jsonw::str(o, a),
                None => o.push_str("null"),
            }
            o.push_str(",\"type\":\"AWS::KMS::Key\"}]");
        }
        o.push_str(",\"eventType\":\"AwsApiCall\",\"managementEvent\":true,");
        jsonw::str_member(
            o,
            "recipientAccountId",
            ev.key_account.as_deref().unwrap_or(&self.config.account),
        );
        o.push_str(",\"eventCategory\":\"Management\"}");
        self.audit.record(out);
    }
}
