//! Key policies: GetKeyPolicy, PutKeyPolicy (with the lockout safety check), ListKeyPolicies.

use ebsim_kms_api::types::policy::{
    DEFAULT_POLICY_NAME, GetKeyPolicyRequest, GetKeyPolicyResponse, ListKeyPoliciesRequest,
    ListKeyPoliciesResponse, POLICY_NAME_RULE, PutKeyPolicyRequest,
};
use ebsim_kms_api::types::{EmptyResponse, Request as _};

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
        req: &GetKeyPolicyRequest,
        ev: &mut Ev,
    ) -> R<GetKeyPolicyResponse> {
        type Q = GetKeyPolicyRequest;
        let name = req.policy_name.as_deref().unwrap_or(DEFAULT_POLICY_NAME);
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        let key = self.managed_key(st, caller, key_ref, Q::OPERATION, ev)?;
        if name != DEFAULT_POLICY_NAME {
            return Err(err(
                ErrorType::NotFoundException,
                format!("Policy {name} does not exist"),
            ));
        }
        Ok(GetKeyPolicyResponse {
            policy: key.policy_text.clone(),
            policy_name: DEFAULT_POLICY_NAME.to_owned(),
        })
    }

    pub(super) fn list_key_policies(
        &self,
        st: &State,
        caller: &Caller,
        req: &ListKeyPoliciesRequest,
        ev: &mut Ev,
    ) -> R<ListKeyPoliciesResponse> {
        type Q = ListKeyPoliciesRequest;
        let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
        self.managed_key(st, caller, key_ref, Q::OPERATION, ev)?;
        Ok(ListKeyPoliciesResponse {
            policy_names: vec![DEFAULT_POLICY_NAME.to_owned()],
            truncated: false,
            next_marker: None,
        })
    }

    pub(super) fn put_key_policy(
        &self,
        st: &mut State,
        caller: &Caller,
        req: &PutKeyPolicyRequest,
        ev: &mut Ev,
    ) -> R<EmptyResponse> {
        type Q = PutKeyPolicyRequest;
        let name = req.policy_name.as_deref().unwrap_or(DEFAULT_POLICY_NAME);
        let text = Q::POLICY.check_present(req.policy.as_deref())?;
        let bypass = req.bypass_policy_lockout_safety_check;
        let (id, arn) = {
            let key_ref = Q::KEY_ID.check_present(req.key_id.as_deref())?;
            let key = self.managed_key(st, caller, key_ref, Q::OPERATION, ev)?;
            (key.slot(), key.arn.clone())
        };
        if name != DEFAULT_POLICY_NAME {
            return Err(Q::POLICY_NAME.violation(POLICY_NAME_RULE, name));
        }
        let doc = self.check_new_policy(st, caller, text, &arn, bypass)?;
        let k = st
            .keys
            .get_mut(&id)
            .ok_or_else(|| internal("key vanished"))?;
        k.policy_text = text.to_string();
        k.policy = Some(Arc::new(doc));
        Ok(EmptyResponse {})
    }
}
