//! Key policies: GetKeyPolicy, PutKeyPolicy (with the lockout safety check), ListKeyPolicies.

use super::*;

impl Kms {
    /// Checks a policy for CreateKey/PutKeyPolicy: size, grammar, lockout safety.
    pub(super) fn check_new_policy(
        &self,
        st: &State,
        caller: &Caller,
        text: &str,
        key_arn: &str,
        bypass: bool,
    ) -> R<PolicyDocument> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(err(
                ErrorType::LimitExceededException,
                format!(
                    "The key policy is {} bytes, more than the {MAX_POLICY_BYTES}-byte limit.",
                    text.len()
                ),
            ));
        }
        let doc = PolicyDocument::parse_key_policy(text).map_err(KmsError::from)?;
        if !bypass {
            let p = caller.principal.as_str();
            let cv = self.base_conditions(caller);
            let ok = match doc.allows(p, "kms:PutKeyPolicy", key_arn, &cv) {
                Decision::Allow { .. } => {
                    !matches!(self.iam(st, p, "kms:PutKeyPolicy", key_arn, &cv), Iam::Deny)
                }
                Decision::DelegatedToIam { .. } => {
                    is_root(p)
                        || matches!(
                            self.iam(st, p, "kms:PutKeyPolicy", key_arn, &cv),
                            Iam::Allow
                        )
                }
                _ => false,
            };
            if !ok {
                return Err(err(
                    ErrorType::MalformedPolicyDocumentException,
                    "The new key policy will not allow you to update the key policy in the future.",
                ));
            }
        }
        Ok(doc)
    }

    pub(super) fn get_key_policy(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let name = opt_str(req, "PolicyName")?.unwrap_or("default");
        let key = self.managed_key(st, caller, req, "GetKeyPolicy", ev)?;
        if name != "default" {
            return Err(err(
                ErrorType::NotFoundException,
                format!("Policy {name} does not exist"),
            ));
        }
        Ok(json!({"Policy": key.policy_text, "PolicyName": "default"}))
    }

    pub(super) fn list_key_policies(
        &self,
        st: &State,
        caller: &Caller,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        self.managed_key(st, caller, req, "ListKeyPolicies", ev)?;
        Ok(json!({"PolicyNames": ["default"], "Truncated": false}))
    }

    pub(super) fn put_key_policy(
        &self,
        st: &mut State,
        caller: &Caller,
        op: &str,
        req: &Map<String, Value>,
        ev: &mut Ev,
    ) -> R<Value> {
        let name = opt_str(req, "PolicyName")?.unwrap_or("default");
        let text = req_str(req, "Policy")?;
        let bypass = opt_bool(req, "BypassPolicyLockoutSafetyCheck")?;
        let (id, arn) = {
            let key = self.managed_key(st, caller, req, op, ev)?;
            (key.id.clone(), key.arn.clone())
        };
        if name != "default" {
            return Err(validation(
                "1 validation error detected: Value at 'policyName' failed to satisfy constraint: Member must be default",
            ));
        }
        let doc = self.check_new_policy(st, caller, text, &arn, bypass)?;
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        k.policy_text = text.to_string();
        k.policy = Some(Arc::new(doc));
        Ok(json!({}))
    }
}
