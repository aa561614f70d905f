//! TagResource, UntagResource, ListResourceTags.
