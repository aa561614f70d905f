//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
