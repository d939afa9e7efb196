//! HTTP building blocks shared by every endpoint group: reading JSON bodies, query strings and
//! page requests, writing JSON and XML answers. Nothing here knows the simulator's state.

pub(crate) mod json_body;
pub(crate) mod paging;
pub(crate) mod query_string;
pub(crate) mod response;
