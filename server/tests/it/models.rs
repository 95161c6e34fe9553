//! Model endpoints: output parsing against every real model output of the shared corpus, and
//! the HTTP client against real local servers (wiremock, and axum for true streaming).

mod corpus;
mod http;
