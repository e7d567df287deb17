//! Authentication: password hashing, access tokens (JWT), opaque refresh and invitation
//! tokens, login throttling, and the extractor that turns a bearer token into an [`Auth`].

pub mod access;
pub mod device;
pub mod extract;
pub mod opaque;
pub mod password;
pub mod role_cache;
pub mod throttle;

pub use extract::{Active, Auth, Caller, Manager, Person, Writer};
