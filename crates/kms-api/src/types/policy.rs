//! GetKeyPolicy, PutKeyPolicy, ListKeyPolicies.
