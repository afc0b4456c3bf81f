//! The provider through the OpenFeature SDK's own client API.

mod api {
    mod corpus;
    mod provider;
}
