//! The admin operations: clock, faults, root credentials, audit reads (account root only),
//! and reset and saved states (`states.rs`; the default account's root only).

use super::*;

/// Every admin operation (`X-Amz-Target: EbsimAdmin.<Operation>`). IAM users, roles and
/// their policies are not among them: they are IAM actions (docs/iam.md).
pub const ADMIN_OPERATIONS: &[&str] = &[
    "AdvanceClock",
    "ResetClock",
    "GetClock",
    "SetFault",
    "ClearFaults",
    "GetRootCredentials",
    "ReadAudit",
    "Reset",
    "SaveState",
    "RestoreState",
    "ListStates",
    "DeleteState",
];

impl Kms {
    /// Operations KMS has no wire operation for (clock, faults, root credentials, audit, reset
    /// and saved states), allowed to an account root only (reset and saved states: to the
    /// default account's root). IAM users, roles and policies are IAM actions (docs/iam.md).
    ///
    /// # Errors
    /// AccessDeniedException for anyone but a root; ValidationException for bad input.
    pub fn admin(
        &self,
        caller: &Caller,
        operation: &str,
        request_json: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let body: &[u8] = if request_json.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            request_json
        };
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ser(format!("Malformed request body: {e}")))?;
        self.admin_json(caller, operation, v)
            .map(|out| serde_json::to_vec(&out).unwrap_or_else(|_| b"{}".to_vec()))
    }

    /// [`Kms::admin`] with parsed JSON.
    ///
    /// # Errors
    /// As [`Kms::admin`].
    pub fn admin_json(
        &self,
        caller: &Caller,
        operation: &str,
        request: Value,
    ) -> Result<Value, KmsError> {
        if !ADMIN_OPERATIONS.contains(&operation) {
            return Err(err(
                ErrorType::UnknownOperationException,
                format!("Unknown admin operation {operation}"),
            ));
        }
        if !is_root(&caller.principal) || caller.via_service.is_some() {
            return Err(err(
                ErrorType::AccessDeniedException,
                format!(
                    "User: {} is not authorized to perform: ebsim:{operation} (admin operations are for an account root)",
                    caller.principal
                ),
            ));
        }
        let Value::Object(req) = request else {
            return Err(ser("The request body must be a JSON object"));
        };
        match operation {
            "AdvanceClock" => {
                let days = req
                    .get("Days")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| validation("Days (a number) is required."))?;
                if !days.is_finite() || days < 0.0 {
                    return Err(validation("Days must be a non-negative number."));
                }
                {
                    let mut st = self.state.write();
                    let offset = st.clock_offset + days * DAY;
                    // Also refuses an overflow to infinity: no non-finite offset is stored.
                    if !offset.is_finite() || offset > crate::state::MAX_CLOCK_OFFSET {
                        return Err(validation(format!(
                            "Simulated time may run at most {} days (100 years) ahead of the wall clock; it is {:.3} days ahead. `ebsim clock reset` returns to wall time.",
                            crate::state::MAX_CLOCK_OFFSET / DAY,
                            st.clock_offset / DAY
                        )));
                    }
                    st.clock_offset = offset;
                    self.persist(&mut st)?;
                }
                self.maintain(self.now())?;
                Ok(self.clock_json())
            }
            "ResetClock" => {
                {
                    let mut st = self.state.write();
                    st.clock_offset = 0.0;
                    self.persist(&mut st)?;
                    self.update_due(&st);
                }
                Ok(self.clock_json())
            }
            "GetClock" => Ok(self.clock_json()),
            "SetFault" => {
                let op = req
                    .get("Operation")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        validation("Operation is required (\"*\" or an operation name).")
                    })?;
                let kind = match req.get("Kind").and_then(Value::as_str) {
                    Some("outage") => {
                        let t = match req.get("ErrorType").and_then(Value::as_str) {
                            None => ErrorType::KMSInternalException,
                            Some(n) => match ErrorType::from_name(n) {
                                Some(
                                    t @ (ErrorType::KMSInternalException
                                    | ErrorType::DependencyTimeoutException),
                                ) => t,
                                _ => {
                                    return Err(validation(
                                        "ErrorType must be KMSInternalException or DependencyTimeoutException.",
                                    ));
                                }
                            },
                        };
                        FaultKind::Outage(t)
                    }
                    Some("throttle") => {
                        let r = req
                            .get("RatePerSecond")
                            .and_then(Value::as_f64)
                            .ok_or_else(|| validation("RatePerSecond is required for throttle."))?;
                        if !(r.is_finite() && r > 0.0) {
                            return Err(validation("RatePerSecond must be positive."));
                        }
                        FaultKind::Throttle(r)
                    }
                    Some("latency") => {
                        let ms = req
                            .get("LatencyMs")
                            .and_then(Value::as_u64)
                            .ok_or_else(|| validation("LatencyMs is required for latency."))?;
                        if ms > 60_000 {
                            return Err(validation("LatencyMs must be at most 60000."));
                        }
                        FaultKind::Latency(ms)
                    }
                    _ => return Err(validation("Kind must be outage, throttle or latency.")),
                };
                self.faults.set(op, kind, SystemClock.now());
                Ok(json!({}))
            }
            "ClearFaults" => {
                self.faults.clear();
                Ok(json!({}))
            }
            "GetRootCredentials" => {
                let account = match req.get("AccountId") {
                    None | Some(Value::Null) => self.config.account.clone(),
                    Some(Value::String(a)) => a.clone(),
                    Some(_) => return Err(validation("AccountId must be 12 digits.")),
                };
                if account.parse::<ebsim_kms_api::id::AccountId>().is_err() {
                    return Err(validation("AccountId must be 12 digits."));
                }
                let (id, secret) = self.root_keys.get_or_create(&account).map_err(|e| {
                    internal(format!("The root credentials could not be saved: {e}"))
                })?;
                Ok(json!({
                    "Arn": format!("arn:aws:iam::{account}:root"),
                    "AccountId": account,
                    "AccessKeyId": id,
                    "SecretAccessKey": secret.as_str(),
                }))
            }
            "ReadAudit" => {
                let limit = req.get("Limit").and_then(Value::as_u64).map(|n| n as usize);
                Ok(json!({
                    "Records": self.audit.records(limit),
                    "Dropped": self.audit.dropped(),
                }))
            }
            op if states::STATE_OPERATIONS.contains(&op) => self.state_admin(caller, op, &req),
            _ => Err(err(
                ErrorType::UnknownOperationException,
                format!("Unknown admin operation {operation}"),
            )),
        }
    }

    pub(super) fn clock_json(&self) -> Value {
        let now = self.now();
        json!({"OffsetSeconds": self.state.read().clock_offset, "Now": now, "NowIso": iso8601(now)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_every_state_operation_and_no_iam_one() {
        for op in states::STATE_OPERATIONS {
            assert!(ADMIN_OPERATIONS.contains(&op), "{op}");
        }
        for op in [
            "CreateUser",
            "CreateRole",
            "PutPrincipalPolicy",
            "ListPrincipals",
        ] {
            assert!(!ADMIN_OPERATIONS.contains(&op), "{op}");
        }
    }
}
