//! The AWS Query protocol of IAM, STS and EC2 (docs/iam.md, docs/ec2.md): the form-encoded request decoder,
//! the XML response and error encoder, the operation table and the IAM name rules.
//!
//! ```
//! use ebsim_iam::{QueryRequest, QueryService, xml};
//!
//! let req = QueryRequest::parse(b"Action=GetUser&Version=2010-05-08&UserName=bob")?;
//! assert_eq!(req.action(), "GetUser");
//! assert_eq!(req.get("UserName"), Some("bob"));
//! let body = xml::response(QueryService::Iam, "GetUser", "req-1", |w| {
//!     w.open("User");
//!     w.text("UserName", "bob & co");
//!     w.close("User");
//! });
//! let text = String::from_utf8(body).expect("UTF-8");
//! assert!(text.contains("<GetUserResult><User><UserName>bob &amp; co</UserName></User></GetUserResult>"));
//! # Ok::<(), ebsim_iam::QueryError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod names;
mod ops;
mod query;
pub mod xml;

// The public interface is:
pub use error::QueryError;
pub use ops::{EC2_ACTIONS, IAM_ACTIONS, QueryService, STS_ACTIONS};
pub use query::{DEFAULT_MAX_ITEMS, MAX_PARAMS, MAX_QUERY_BYTES, QueryRequest};
